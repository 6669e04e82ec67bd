"""On-the-fly predictions of a protocol run against ``glassfix predict`` on the same frames."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from glassfix.data.lammps_io import write_dump
from glassfix.protocols import load_frame_npz
from helpers import REPO

MODELS = REPO / "examples" / "models"
START = MODELS / "ka_start.data"


def offline(frame, model: Path, tmp: Path) -> np.ndarray:
    """``glassfix predict`` (in this process) on ``frame`` written as a full-precision dump."""
    from glassfix.cli import main

    dump = tmp / f"frame_{frame.step}.dump"
    write_dump(frame, dump)
    out = tmp / f"offline_{frame.step}.npy"
    assert main(["predict", "--model", str(model), "--frame", str(dump), "--out", str(out)]) == 0
    return np.load(out)


def check_frames(workdir: Path, kind: str, model: Path, output: str, rtol: float, tmp: Path) -> int:
    n = 0
    for f in sorted((workdir / "frames").glob(f"{kind}_*.npz")):
        frame, labels, _ = load_frame_npz(f)
        online = labels[f"predict/{output}"]
        ref = offline(frame, model, tmp)
        assert np.array_equal(np.isnan(online), np.isnan(ref))
        ok = ~np.isnan(ref)
        # relative to the values' scale (the native softness tables interpolate each pair function to
        # 1e-12 of its maximum, so values that cancel to near 0 keep an absolute error ~1e-12)
        np.testing.assert_allclose(online[ok], ref[ok], rtol=rtol, atol=rtol * np.abs(ref[ok]).max())
        n += 1
    return n
