"""Seed derivation: every derived random seed of the package comes from one of these two functions.

* :func:`seed_from_ints` — ``numpy.random.SeedSequence(parts).generate_state(1)[0]``, a uint32 for a tuple
  of integers (a base seed and chunk/temperature/chain indices): nearby inputs give decorrelated seeds.
  Used by the swap-MC engine (one numba RNG seed per chunk of sweeps) and its ladder (chain start-ups).
* :func:`seed_from_text` — the first ``nbytes`` of SHA-256 of a text key as a little-endian integer, for
  identities that are strings (a store's frame key, a protocol stage name), stable across Python versions
  and processes (unlike ``hash``). Used by the isoconfigurational replicas and the protocols' re-seeded
  thermostats, each of which keeps its own key format and range on top.

Two functions, not one, because the streams of existing stores, checkpoints and tests are built from both
derivations; merging them would silently change every derived seed. Seeds are dimensionless integers.
"""

from __future__ import annotations

import hashlib

import numpy as np

__all__ = ["seed_from_ints", "seed_from_text"]

_MASK64 = 0xFFFFFFFFFFFFFFFF


def seed_from_ints(*parts: int) -> int:
    """A uint32 seed from integers via ``SeedSequence`` (each part taken mod 2**64; dimensionless)."""
    return int(np.random.SeedSequence([int(p) & _MASK64 for p in parts]).generate_state(1)[0])


def seed_from_text(key: str, nbytes: int = 8) -> int:
    """The first ``nbytes`` of SHA-256 of ``key`` (UTF-8) as a little-endian unsigned integer (dimensionless)."""
    if not 1 <= nbytes <= 32:
        raise ValueError(f"nbytes must be in 1..32, got {nbytes}")
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:nbytes], "little")
