"""Aside to chapter 7: a toy Feistel cipher, to contrast mixing that hides with mixing that generalises.

A reversible block (`memory_trade.ReversibleBlock`) is a Feistel network over real numbers: its
inverse needs no stored activation. The same structure over 16-bit integers, with a nonlinear
round function, is a block cipher: each round (L, R) -> (R, L xor F(R, k)) is invertible whatever
F is, and after a few rounds one flipped input bit flips about half the output bits
(`avalanche`). A TOY: it has no security whatsoever.
"""
from __future__ import annotations

import numpy as np

_MASK16 = np.uint32(0xFFFF)


def _round_function(r, k):
    """A 16-bit nonlinear mixing function: key xor, two odd multiplies and xor-shifts (mod 2^16)."""
    x = (r ^ k) & _MASK16
    x = (x * np.uint32(0x9E37)) & _MASK16
    x ^= x >> np.uint32(7)
    x = (x * np.uint32(0x2C1B)) & _MASK16
    x ^= x >> np.uint32(9)
    return x


def feistel_keys(seed: int = 0, rounds: int = 8) -> np.ndarray:
    """Round keys for the toy cipher, drawn from a seeded generator (16 bits each)."""
    return np.random.default_rng(seed).integers(0, 1 << 16, size=rounds, dtype=np.uint32)


def feistel_encrypt(blocks, keys) -> np.ndarray:
    """Encrypt 32-bit blocks with a Feistel network: (L, R) -> (R, L xor F(R, k)) per round.

    A TOY for the avalanche demonstration; it has no security whatsoever.
    """
    b = np.asarray(blocks, dtype=np.uint32)
    left, right = b >> np.uint32(16), b & _MASK16
    for k in np.asarray(keys, dtype=np.uint32):
        left, right = right, left ^ _round_function(right, k)
    return (left << np.uint32(16)) | right


def feistel_decrypt(blocks, keys) -> np.ndarray:
    """The inverse: the same rounds in reverse order, (L, R) -> (R xor F(L, k), L)."""
    b = np.asarray(blocks, dtype=np.uint32)
    left, right = b >> np.uint32(16), b & _MASK16
    for k in np.asarray(keys, dtype=np.uint32)[::-1]:
        left, right = right ^ _round_function(left, k), left
    return (left << np.uint32(16)) | right


def popcount32(x) -> np.ndarray:
    """Number of 1 bits in each 32-bit word."""
    x = np.asarray(x, dtype=np.uint32)
    return np.unpackbits(x.view(np.uint8).reshape(*x.shape, 4), axis=-1).sum(axis=-1)


def avalanche(keys, n_samples: int = 4096, seed: int = 1) -> np.ndarray:
    """Mean number of output bits that flip when one input bit flips, for each of the 32 input bits."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 1 << 32, size=n_samples, dtype=np.uint64).astype(np.uint32)
    y = feistel_encrypt(x, keys)
    out = np.empty(32)
    for bit in range(32):
        y2 = feistel_encrypt(x ^ np.uint32(1 << bit), keys)
        out[bit] = popcount32(y ^ y2).mean()
    return out
