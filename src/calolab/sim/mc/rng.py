"""A small explicit-state random generator for numba kernels (xoshiro256+).

The state is a ``uint64[4]`` array passed to every sampler, so a kernel has no hidden
global state and every event is reproducible from its own 64-bit seed. Seeding expands the
seed with splitmix64 as recommended by the xoshiro authors (Blackman & Vigna, 2018).
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["new_state", "seed_state", "uniform", "uniform_open", "normal", "exponential", "gamma"]

_INV_2_53 = 1.0 / 9007199254740992.0


@njit(cache=True, inline="always")
def _rotl(x, k):
    return (x << np.uint64(k)) | (x >> np.uint64(64 - k))


def new_state() -> np.ndarray:
    """An unseeded state array (``uint64[4]``); seed it with :func:`seed_state`."""
    return np.zeros(4, dtype=np.uint64)


@njit(cache=True)
def seed_state(state, seed):
    """Fill ``state`` from a 64-bit ``seed`` with the splitmix64 sequence."""
    x = np.uint64(seed)
    for i in range(4):
        x = x + np.uint64(0x9E3779B97F4A7C15)
        z = x
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        state[i] = z ^ (z >> np.uint64(31))


@njit(cache=True)
def uniform(state):
    """A double in [0, 1)."""
    s0, s1, s2, s3 = state[0], state[1], state[2], state[3]
    result = s0 + s3
    t = s1 << np.uint64(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = _rotl(s3, 45)
    state[0], state[1], state[2], state[3] = s0, s1, s2, s3
    return float(result >> np.uint64(11)) * _INV_2_53


@njit(cache=True)
def uniform_open(state):
    """A double in (0, 1), safe for logarithms."""
    u = uniform(state)
    while u == 0.0:
        u = uniform(state)
    return u


@njit(cache=True)
def normal(state):
    """A standard normal deviate (Marsaglia polar method)."""
    while True:
        a = 2.0 * uniform(state) - 1.0
        b = 2.0 * uniform(state) - 1.0
        r = a * a + b * b
        if 0.0 < r < 1.0:
            return a * np.sqrt(-2.0 * np.log(r) / r)


@njit(cache=True)
def exponential(state):
    """An exponential deviate of unit mean."""
    return -np.log(uniform_open(state))


@njit(cache=True)
def gamma(state, shape):
    """A gamma deviate of unit scale (Marsaglia & Tsang, ACM TOMS 26 (2000) 363)."""
    if shape < 1.0:
        # boost: Gamma(a) = Gamma(a + 1) U^(1/a)
        return gamma(state, shape + 1.0) * uniform_open(state) ** (1.0 / shape)
    d = shape - 1.0 / 3.0
    c = 1.0 / np.sqrt(9.0 * d)
    while True:
        x = normal(state)
        v = 1.0 + c * x
        if v <= 0.0:
            continue
        v = v * v * v
        u = uniform_open(state)
        if np.log(u) < 0.5 * x * x + d - d * v + d * np.log(v):
            return d * v
