r"""Card text for people: parameter slots filled in, numbers with their units, Markdown and HTML.

    render("{model} on {chip}", {"model": "DeepSeek-V3", "chip": "H100 SXM"})
    format_answer(5411.2, "sequences")            # '5,411 sequences'
    to_markdown(r"\(t \times C\) at $2")           # '$t \times C$ at \$2' (MyST: money is not math)

Cards write math as \( \) and \[ \], never with dollars, because card text also speaks of money;
each output (the book's MyST, Anki's and the drill's HTML) converts it here. Text in, text out.
"""
from __future__ import annotations

import html
import math
import re

# A slot is {name} or {name:format}; the lookbehind leaves LaTeX (\text{x}, x_{i}, x^{2}) alone.
_SLOT = re.compile(r"(?<![\\A-Za-z_^])\{([A-Za-z_]\w*)(?::([^{}]*))?\}")


def _show_value(value, spec: str | None) -> str:
    if spec:
        try:
            return format(value, spec)
        except (ValueError, TypeError):  # a format that does not fit this value: plain text
            return str(value)
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.0f}" if value.is_integer() and abs(value) >= 1000 else f"{value:g}"
    return str(value)


def render(text: str, params: dict) -> str:
    """Fill ``{name}`` and ``{name:format}`` slots with parameter values; other braces are left alone
    (LaTeX such as ``\\text{active}`` or ``\\frac{a}{b}`` is safe)."""
    def sub(m):
        name, spec = m.group(1), m.group(2)
        return _show_value(params[name], spec) if name in params else m.group(0)
    return _SLOT.sub(sub, text)


def format_number(x: float) -> str:
    """5411.2 -> '5,411'; 23.88 -> '23.9'; 0.3463 -> '0.346'; 3.79e25 -> '3.79e25'; 0.0005 -> '5e-4'."""
    x = float(x)
    if x == 0 or not math.isfinite(x):
        return f"{x:g}"
    a = abs(x)
    if a >= 1e7 or a < 1e-3:
        mantissa, exponent = f"{x:.2e}".split("e")  # always has an exponent, unlike :g
        return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"
    if a >= 1000:
        return f"{x:,.0f}"
    if a >= 100:
        return f"{x:.0f}"
    return f"{x:.3g}"


def format_answer(value, unit: str = "") -> str:
    """The answer with its unit: '5,411 sequences', '23.9 ms', '0.346'."""
    if value is None:
        return ""
    text = format_number(value)
    if not unit:
        return text
    if unit.startswith("$"):  # '$ per million tokens' -> '$23.5 per million tokens'
        return f"${text}{unit[1:]}"
    return f"{text}{unit}" if unit in ("%", "×") else f"{text} {unit}"


def to_markdown(text: str) -> str:
    r"""Card text (math in \( \) and \[ \]) as MyST Markdown: $...$ / $$...$$, literal $ escaped."""
    parts, pos = [], 0
    for m in re.finditer(r"\\\((.+?)\\\)|\\\[(.+?)\\\]", text, re.S):
        parts.append(text[pos:m.start()].replace("$", r"\$"))
        parts.append(f"${m.group(1).strip()}$" if m.group(1) is not None else f"$${m.group(2).strip()}$$")
        pos = m.end()
    parts.append(text[pos:].replace("$", r"\$"))
    return "".join(parts)


def to_html(text: str) -> str:
    r"""Card text as HTML for Anki and the drill: <, >, & escaped, paragraphs kept, math left in \( \)."""
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text.strip())]
    return "<br><br>".join(html.escape(" ".join(p.split()), quote=False) for p in paragraphs)

