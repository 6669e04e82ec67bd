"""glassfix.core.seeds: the two seed derivations, against the formulas the stored data was made with."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from glassfix.core.seeds import seed_from_ints, seed_from_text


@pytest.mark.parametrize("base", [0, 1, 7, 12345, 2**31 - 1])
def test_derived_seeds_keep_their_streams(base):
    from glassfix.ensembles.replica import replica_seed
    from glassfix.mc.engine import _chunk_seed
    from glassfix.protocols.common import derive_seed

    for key in ("ka/0", "pilot|x/000000000100"):
        for r in range(3):
            text = f"glassfix-iso|{base}|{key}|{r}".encode()
            assert replica_seed(base, key, r) == int.from_bytes(hashlib.sha256(text).digest()[:8], "little") >> 1
    for parts in ((), ("langevin", 100)):
        h = hashlib.sha256(json.dumps([base, *[str(p) for p in parts]]).encode()).digest()
        assert derive_seed(base, *parts) == 1 + int.from_bytes(h[:4], "little") % 900_000_000
    for c in range(4):
        assert _chunk_seed(base, c) == int(np.random.SeedSequence([base, c]).generate_state(1)[0])
        # the swap ladder's chain seeds (parts below 2**32: one SeedSequence word each, as before)
        assert seed_from_ints(base, 2000 + c, 1) == int(np.random.SeedSequence([base, 2000 + c, 1]).generate_state(1)[0])


def test_seeds_differ_and_are_checked():
    assert len({seed_from_ints(1, k) for k in range(100)}) == 100
    assert seed_from_text("a") != seed_from_text("b") and seed_from_text("a", 4) < 2**32
    with pytest.raises(ValueError, match="nbytes"):
        seed_from_text("a", 0)
