"""Units and display helpers (number formats: `formats`).

rooflib computes in SI units only: seconds, bytes, FLOP, FLOP/s, bytes/s, dollars. The helpers
here turn those numbers into text for people ("23.9 ms", "70.3 kB") and are never used in
arithmetic. Prefixes are decimal (1 GB = 1e9 B) unless a function says GiB.
"""
from __future__ import annotations

import math

from .formats import BYTES_PER_ELEMENT, bytes_per_element  # noqa: F401  (re-exported: formats live in formats.py)

GB = 1e9
GiB = 2.0**30
TB = 1e12
HOUR = 3600.0
MILLION = 1e6

#: Calendar lengths in seconds, one value each for the whole library. A year is the Julian year of
#: 365.25 days (the astronomers' year unit "a", IAU Style Manual 1989), a month its twelfth: 30.44
#: days, 730.5 hours. Chapter 5 counts deployment months and served tokens per month in these.
DAY = 86_400.0
YEAR = 365.25 * DAY
MONTH = YEAR / 12

#: The month of cloud price pages, a different unit: "$ per GiB-month" is billed for 730 hours
#: (365 x 24 / 12; Google Cloud's pricing pages and calculator, https://cloud.google.com/products/calculator,
#: count 730 hours in a month). Convert a price quoted per month with this, not with MONTH: 0.07 %
#: apart, enough to move chapter 6's third digits.
BILLING_MONTH = 730 * HOUR


_PREFIXES = [(1e18, "E"), (1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, "")]


def _si(value: float, unit: str, digits: int = 3) -> str:
    if value == 0 or not math.isfinite(value):
        return f"{value:g} {unit}"
    for scale, prefix in _PREFIXES:
        if abs(value) >= scale:
            return f"{value / scale:.{digits}g} {prefix}{unit}"
    return f"{value:.{digits}g} {unit}"


def fmt_bytes(n: float, digits: int = 3) -> str:
    """70272 -> '70.3 kB' (decimal prefixes)."""
    return _si(float(n), "B", digits)


def fmt_flops(x: float, digits: int = 3) -> str:
    """9.894e14 -> '989 TFLOP/s'."""
    return _si(float(x), "FLOP/s", digits)


def fmt_bandwidth(x: float, digits: int = 3) -> str:
    """3.35e12 -> '3.35 TB/s'."""
    return _si(float(x), "B/s", digits)


def fmt_time(seconds: float, digits: int = 3) -> str:
    """0.0239 -> '23.9 ms'; 5400 -> '1.5 h'."""
    s = float(seconds)
    if s >= 86400:
        return f"{s / 86400:.{digits}g} days"
    if s >= 3600:
        return f"{s / 3600:.{digits}g} h"
    if s >= 60:
        return f"{s / 60:.{digits}g} min"
    for scale, unit in [(1.0, "s"), (1e-3, "ms"), (1e-6, "µs"), (1e-9, "ns")]:
        if s >= scale:
            return f"{s / scale:.{digits}g} {unit}"
    return f"{s:.{digits}g} s"


def fmt_count(n: float, unit: str = "", digits: int = 3) -> str:
    """1.4e12 -> '1.4 T'; with unit='tokens' -> '1.4 T tokens'. Uses K/M/B/T as people say them."""
    n = float(n)
    for scale, word in [(1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")]:
        if abs(n) >= scale:
            text = f"{n / scale:.{digits}g} {word}"
            break
    else:
        text = f"{n:.{digits}g}"
    return f"{text} {unit}".strip()


def fmt_dollars(x: float, digits: int = 3) -> str:
    """0.000123 -> '$0.000123'; 87072 -> '$87,072'."""
    x = float(x)
    if abs(x) >= 1000:
        return f"${x:,.0f}"
    return f"${x:.{digits}g}"
