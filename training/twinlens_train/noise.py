"""Deterministic Gaussian noise shared bit-for-bit with the TypeScript engine.

PRNG: mulberry32 over uint32 state, emulating JavaScript's Math.imul and >>>.
Gaussians: Box-Muller in float64, values produced in pairs (cos, sin) filling a
row-major buffer; the result is cast to float32 at the end.
Ensemble draw k uses seed (seed + k) mod 2**32.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

_M32 = 0xFFFFFFFF


def _imul(a: int, b: int) -> int:
    """32-bit multiply keeping the low 32 bits (as unsigned), like Math.imul >>> 0."""
    return (a * b) & _M32


class Mulberry32:
    def __init__(self, seed: int):
        self.state = int(seed) & _M32

    def next_uint32(self) -> int:
        self.state = (self.state + 0x6D2B79F5) & _M32
        t = self.state
        t = _imul(t ^ (t >> 15), t | 1)
        t ^= (t + _imul(t ^ (t >> 7), t | 61)) & _M32
        return (t ^ (t >> 14)) & _M32

    def uniform(self) -> float:
        """Uniform in the open interval (0, 1): (next + 0.5) / 2**32."""
        return (self.next_uint32() + 0.5) / 4294967296.0


def gaussian_float64(n: int, seed: int) -> np.ndarray:
    """n standard normal values in float64 (Box-Muller, cos then sin)."""
    rng = Mulberry32(seed)
    out = np.empty(n, dtype=np.float64)
    i = 0
    while i < n:
        u1 = rng.uniform()
        u2 = rng.uniform()
        r = math.sqrt(-2.0 * math.log(u1))
        theta = 2.0 * math.pi * u2
        out[i] = r * math.cos(theta)
        i += 1
        if i < n:
            out[i] = r * math.sin(theta)
            i += 1
    return out


def gaussian(shape: Sequence[int], seed: int, draw: int = 0) -> np.ndarray:
    """float32 noise of `shape` (row-major) for ensemble draw `draw`."""
    n = int(np.prod(shape)) if len(shape) else 1
    s = (int(seed) + int(draw)) & _M32
    return gaussian_float64(n, s).astype(np.float32).reshape(tuple(shape))
