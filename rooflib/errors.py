"""Clear errors for bad input: unknown names list close matches, bad values name the argument.

Every public function validates its arguments here, so a reader who types a wrong chip name or a
negative batch gets a sentence that says what went wrong, never a NaN or a traceback from numpy.
"""
from __future__ import annotations

import difflib
import re

import numpy as np


class UnknownNameError(LookupError):
    """A catalog name that does not exist. The message lists the closest known names."""


def normalise(name: str) -> str:
    """Lower-case and drop everything but letters and digits: 'H100-SXM' -> 'h100sxm'."""
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


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


def as_array(name: str, value) -> np.ndarray:
    """`value` as a float array; a clear ValueError if it is not numeric or not finite."""
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number or an array of numbers, got {value!r}") from None
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return arr


def positive(name: str, value) -> np.ndarray:
    """`value` as a float array, every element > 0, else ValueError naming `name`."""
    arr = as_array(name, value)
    if np.any(arr <= 0):
        bad = arr[arr <= 0].flat[0]
        raise ValueError(f"{name} must be > 0, got {bad:g}")
    return arr


def non_negative(name: str, value) -> np.ndarray:
    """`value` as a float array, every element >= 0, else ValueError naming `name`."""
    arr = as_array(name, value)
    if np.any(arr < 0):
        bad = arr[arr < 0].flat[0]
        raise ValueError(f"{name} must be >= 0, got {bad:g}")
    return arr


def scalar_or_array(x):
    """Return a Python float for a 0-d result (prints as 0.0213, not np.float64(0.0213))."""
    x = np.asarray(x)
    return x.item() if x.ndim == 0 else x
