"""The versioned contract between the plugin's C++ fixes and the Python bridge."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from glassfix.engines.lammps import bridge
from glassfix.engines.lammps.contract import CONTRACT_VERSION, VIEW_LAYOUT
from helpers import REPO

HEADER = REPO / "kernels" / "fix_glass_bridge.h"


def cpp_constants() -> dict[str, int]:
    """The constexpr ints of namespace bridge_contract in kernels/fix_glass_bridge.h."""
    text = HEADER.read_text()
    body = text[text.index("namespace bridge_contract"):text.index("}    // namespace bridge_contract")]
    out: dict[str, int] = {}
    for decl in re.findall(r"constexpr int ([^;]+);", body):
        for part in decl.split(","):
            name, value = (s.strip() for s in part.split("="))
            out[name] = int(value)
    return out


def test_cpp_and_python_sides_declare_the_same_contract():
    c = cpp_constants()
    assert c.pop("VERSION") == CONTRACT_VERSION
    for name, value in c.items():
        assert getattr(VIEW_LAYOUT, name) == value, name


@pytest.mark.parametrize("version", [None, CONTRACT_VERSION + 1])
def test_mismatched_contract_version_names_both_versions_and_the_fix(version):
    info = {"ntypes": 2, "dimension": 3, "nprocs": 1, "rank": 0, "fix_id": "f", "nevery": 5}
    if version is not None:
        info["contract_version"] = version
    with pytest.raises(bridge.BridgeError) as err:
        bridge.create("python", ["math.sqrt"], info)
    msg = str(err.value)
    theirs = "no contract version" if version is None else f"contract version {version}"
    assert theirs in msg and f"expects contract version {CONTRACT_VERSION}" in msg
    assert "glassfix plugin build" in msg


def test_matching_contract_version_creates_the_handler():
    info = {"contract_version": CONTRACT_VERSION, "ntypes": 2, "dimension": 3, "nprocs": 1, "rank": 0,
            "fix_id": "f", "nevery": 5}
    h = bridge.create("python", ["math.sqrt", "ncol", "2"], info)
    assert h.n_outputs == 2


def test_usage_of_every_style_is_its_usage_constant():
    assert bridge.usage("predict") == bridge.PREDICT_USAGE
    assert bridge.usage("python") == bridge.PYTHON_USAGE
    assert bridge.usage("record") == bridge.RECORD_USAGE


def test_gathered_view_unpacks_the_documented_layout():
    """Two atoms packed as docs/plugin.md says (ints: id, type, in-group; doubles: x, unwrapped x, values)."""
    import numpy as np

    from glassfix.engines.lammps.contract import GatheredAtoms

    ints = np.array([7, 2, 1, 3, 1, 0], dtype=np.int32)
    dbl = np.array([0, 1, 2, 10, 11, 12, 0.5, 1, 1, 1, 2, 2, 2, -0.5], dtype=np.float64)
    box = ((0, 0, 0), (5, 5, 5), (0, 0, 0), (1, 1, 1), 0, 3)
    g = GatheredAtoms.from_view({"step": 4, "time": 0.02, "n": 2, "ncol": 7, "ints": memoryview(ints),
                                 "doubles": memoryview(dbl), "box": box})
    assert g.n == 2 and g.ids.tolist() == [7, 3] and g.types.tolist() == [2, 1]
    assert g.in_group.tolist() == [True, False]
    assert g.positions().tolist() == [[0, 1, 2], [1, 1, 1]]
    assert g.unwrapped().tolist() == [[10, 11, 12], [2, 2, 2]]
    assert g.value(0).tolist() == [0.5, -0.5]
