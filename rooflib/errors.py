"""Clear errors for bad input: unknown names list close matches, bad values name the argument.

Every public function validates its arguments here, so a reader who types a wrong chip name or a
negative batch gets a sentence that says what went wrong, never a NaN or a traceback from numpy.
"""
from __future__ import annotations

import difflib
import functools
import math
import re

import numpy as np


class UnknownNameError(LookupError):
    """A catalog name that does not exist. The message lists the closest known names."""


def normalise(name: str) -> str:
    """Lower-case and drop everything but letters and digits: 'H100-SXM' -> 'h100sxm'."""
    return _normalise(name) if isinstance(name, str) else re.sub(r"[^a-z0-9]", "", str(name).lower())


@functools.lru_cache(maxsize=1024)
def _normalise(name: str) -> str:
    # Cached: every call that names a chip, model or format passes through here.
    return re.sub(r"[^a-z0-9]", "", name.lower())


def unknown_name(kind: str, name, known: dict[str, str]) -> UnknownNameError:
    """Build the error for an unknown `name`; `known` maps normalised alias -> display name."""
    key = normalise(name)
    close = difflib.get_close_matches(key, list(known), n=5, cutoff=0.5)
    # Also suggest entries whose alias contains what was typed ("llama" -> every Llama).
    close += [k for k in known if key and key in k and k not in close]
    names = list(dict.fromkeys(known[k] for k in close))[:5]
    hint = f" Did you mean: {', '.join(repr(n) for n in names)}?" if names else ""
    every = sorted(set(known.values()))
    return UnknownNameError(f"unknown {kind} {name!r}.{hint} Known {kind}s: {', '.join(every)}.")


#: Largest magnitude any argument may have. Counts, bytes, FLOPs and prices all stay far below it
#: (a year of the world's largest training run is ~1e27 FLOP); past it, products of two arguments
#: overflow float64 and a result would silently turn into inf or NaN.
LARGEST = 1e30


def as_array(name: str, value) -> np.ndarray:
    """`value` as a float array; a clear ValueError if it is not numeric, not finite or absurdly large.

    Strings, bytes and booleans are refused even where numpy would convert them ("64" is a typing
    slip, True is not a batch size).
    """
    if isinstance(value, (str, bytes, bool, np.bool_)):
        raise ValueError(f"{name} must be a number or an array of numbers, got {_show(value)}")
    try:
        raw = np.asarray(value)
        if raw.dtype.kind not in "iuf":
            raise TypeError
        arr = raw.astype(float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number or an array of numbers, got {_show(value)}") from None
    except OverflowError:
        raise ValueError(f"{name} is too large to be a number of anything, got {_show(value)}") from None
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, got {_show(value)}")
    if np.any(np.abs(arr) > LARGEST):
        raise ValueError(f"{name} must be at most {LARGEST:g} in size, got {np.max(np.abs(arr)):g}")
    return arr


def _show(value) -> str:
    # repr() of what the caller passed, cut short: a 400-digit integer is not a useful message.
    text = repr(value)
    return text if len(text) <= 60 else text[:40] + " ... " + text[-10:]


def _plain_number(value) -> bool:
    # A Python int or float (not bool) is checked without numpy: ~0.2 us instead of ~10 us, which
    # is what keeps a scalar decode_step fast. Arrays and numpy scalars take the general path.
    return type(value) in (int, float)


def _plain_failure(name: str, value, bound: str):
    # The slow path of `positive`/`non_negative` for a Python number: say precisely what is wrong.
    try:
        v = float(value)
    except OverflowError:
        raise ValueError(f"{name} is too large to be a number of anything, got {_show(value)}") from None
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {_show(value)}")
    if v > LARGEST:
        raise ValueError(f"{name} must be at most {LARGEST:g} in size, got {v:g}")
    raise ValueError(f"{name} must be {bound}, got {v:g}")


def positive(name: str, value):
    """`value` as a float (for a Python number) or float array, every element > 0, else ValueError
    naming `name`."""
    if _plain_number(value):
        if 0 < value <= LARGEST and math.isfinite(value):
            return float(value)
        return _plain_failure(name, value, "> 0")
    arr = as_array(name, value)
    if np.any(arr <= 0):
        bad = arr[arr <= 0].flat[0]
        raise ValueError(f"{name} must be > 0, got {bad:g}")
    return arr


def non_negative(name: str, value):
    """`value` as a float (for a Python number) or float array, every element >= 0, else
    ValueError naming `name`."""
    if _plain_number(value):
        if 0 <= value <= LARGEST and math.isfinite(value):
            return float(value)
        return _plain_failure(name, value, ">= 0")
    arr = as_array(name, value)
    if np.any(arr < 0):
        bad = arr[arr < 0].flat[0]
        raise ValueError(f"{name} must be >= 0, got {bad:g}")
    return arr


#: Counts (chips, stages, tokens) above this lose their exactness as floats and overflow int64.
LARGEST_COUNT = 2.0**53


def whole_number(name: str, value, low: float = 1, high: float | None = None):
    """`value` as whole numbers in [low, high] (float or float array), else ValueError naming `name`.

    Chips, stages, layers and draft tokens are counts: 1.5 chips is a typing mistake, not a design.
    `high` defaults to 2**53, past which a float no longer holds every whole number.
    """
    high = LARGEST_COUNT if high is None else high
    v = non_negative(name, value) if low <= 0 else positive(name, value)
    if type(v) is float and v.is_integer() and low <= v <= high:
        return v  # the common scalar case, without numpy
    arr = np.asarray(v)
    if np.any(arr != np.round(arr)):
        raise ValueError(f"{name} must be a whole number, got {_show(value)}")
    if np.any(arr < low):
        raise ValueError(f"{name} must be >= {low:g}, got {arr.min():g}")
    if np.any(arr > high):
        raise ValueError(f"{name} must be <= {high:g}, got {arr.max():g}")
    return v


def fraction(name: str, value, *, allow_zero: bool = False, allow_one: bool = True):
    """`value` as a fraction in (0, 1] (or [0, 1], or (0, 1)), else ValueError naming `name`.

    Efficiencies, MFU and acceptance rates are fractions; 80 where 0.8 was meant is the usual slip.
    """
    v = non_negative(name, value) if allow_zero else positive(name, value)
    arr = np.asarray(v)
    if np.any(arr > 1) or (not allow_one and np.any(arr >= 1)):
        bad = arr[arr >= 1].flat[0] if not allow_one else arr[arr > 1].flat[0]
        bound = "< 1" if not allow_one else "<= 1"
        hint = " (a fraction: 0.8, not 80)" if bad > 1 else ""
        raise ValueError(f"{name} must be {bound}, got {bad:g}{hint}")
    return v


def choice(name: str, value, options) -> str:
    """`value` if it is one of `options`, else ValueError naming `name` and listing them."""
    if value not in options:
        raise ValueError(f"{name} must be one of {', '.join(repr(o) for o in options)}; got {_show(value)}")
    return value


def scalar_or_array(x):
    """Return a Python float for a 0-d result (prints as 0.0213, not np.float64(0.0213))."""
    if type(x) is float:
        return x
    x = np.asarray(x)
    return x.item() if x.ndim == 0 else x


def context_tokens(m, context, name: str = "context"):
    """`context` tokens checked against model `m`: >= 0 and within its trained context length."""
    s = non_negative(name, context)
    longest = np.max(s) if type(s) is not float else s
    if longest > m.context_length:
        raise ValueError(f"{name} must be <= {m.name}'s context length of {m.context_length:,} "
                         f"tokens, got {longest:,.0f}")
    return s


def broadcast(**arrays) -> tuple:
    """The common shape of the named arguments, or a ValueError that names the ones that clash.

    numpy's own message ("shape mismatch: objects cannot be broadcast") does not say which
    argument to fix.
    """
    shapes = {k: np.shape(v) for k, v in arrays.items()}
    try:
        return np.broadcast_shapes(*shapes.values())
    except ValueError:
        described = ", ".join(f"{k} {s}" for k, s in shapes.items() if s)
        raise ValueError(f"array arguments must have shapes that combine (numpy broadcasting): got "
                         f"{described}") from None


def count_result(values, what: str):
    """Whole-number results (floats already rounded) as int or int64 array; a ValueError naming
    `what` if one is too large to count exactly, instead of int64 wrapping round to a negative."""
    arr = np.asarray(values, dtype=float)
    if np.any(arr > LARGEST_COUNT):
        raise ValueError(f"{what} comes to {np.max(arr):.3g}, more than any count rooflib can hold "
                         f"exactly (2**53): check the arguments that multiply into it")
    out = arr.astype(np.int64)
    return out.item() if out.ndim == 0 else out
