"""``glassfix iso --engine openmm`` and ``--engine lammps`` give statistically equal propensity labels.

Unlike ``test_openmm_systems.py::test_iso_replicas_with_openmm_equal_lammps`` (the same velocities, hence the
same trajectories), here every run draws its own velocities (different base seeds), so the engines can agree
only in distribution. Each engine runs 4 × 4 replicas (4 base seeds) on the shipped N = 500 KA glass at
T = 0.8 up to t = 2 τ (400 steps); the yardstick is the replica noise measured within each engine.

Slow (≈ 20 s of CPU, about a minute on a loaded 2-core machine): 32 replica runs of 400 steps are the least
that gives a per-particle correlation well above its noise (split-half r ≈ 0.6 at t = 2 with 8 replicas a
half, measured).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("openmm")

from glassfix.data.lammps_io import read_data  # noqa: E402
from glassfix.data.store import DatasetStore  # noqa: E402
from glassfix.ensembles import IsoSettings, get_executor, run_iso  # noqa: E402

START = Path(__file__).resolve().parents[2] / "examples" / "models" / "ka_start.data"
#: two-sided 99 % quantile of Student's t with 6 degrees of freedom
T99_6DOF = 3.707
#: allowed shortfall of the mean cross-engine correlation below the mean split-half one. Measured on this
#: configuration with 8 independent 8-replica halves per engine: one split-half correlation scatters with
#: s.d. ≈ 0.05 (0.48–0.65; replica noise is correlated across particles — a rearrangement moves many — so
#: (1 − r²)/√n ≈ 0.03 and a particle bootstrap understate it), so mean(2 within) − mean(4 cross) has
#: s.d. ≈ 0.05·√(1/2 + 1/4) ≈ 0.043; 3.5 s.d.
CORR_SLACK = 0.15


def _labels(tmp: Path, frame, engine: str, seed: int) -> dict[str, np.ndarray]:
    path = tmp / f"{engine}_{seed}.h5"
    with DatasetStore(path, "a") as st:
        st.add_frame(frame, key="ka/0", group="c0", system="ka3d", temperature=0.8)
    with get_executor("serial") as ex:
        run_iso(path, IsoSettings(replicas=4, times="log:0.5:2:2", seed=seed, engine=engine), executor=ex)
    with DatasetStore(path, "r") as st:
        return st.labels("ka/0")


@pytest.mark.slow
def test_iso_propensities_agree_statistically_across_engines(tmp_path):
    frame = read_data(START, species=("A", "B"))
    runs = {(e, s): _labels(tmp_path, frame, e, s) for e, seeds in (("lammps", (1, 2, 3, 4)), ("openmm", (5, 6, 7, 8)))
            for s in seeds}
    names = sorted(runs[("lammps", 1)])
    assert names == ["propensity/t=0.5", "propensity/t=2"]
    a = frame.types == 0
    for name in names:
        q = {e: np.array([runs[(e, s)][name][a] for (ee, s) in runs if ee == e]) for e in ("lammps", "openmm")}
        # mean over particles: 4 quarter means (4 replicas each) per engine; pooled within-engine spread (6 dof)
        m = {e: q[e].mean(axis=1) for e in q}
        s = np.sqrt((np.var(m["lammps"], ddof=1) + np.var(m["openmm"], ddof=1)) / 2)
        t = (m["lammps"].mean() - m["openmm"].mean()) / (s * np.sqrt(2 / 4))
        assert abs(t) < T99_6DOF, (name, m, t)
        if name != "propensity/t=2":
            continue
        # per particle: halves of 8 replicas; cross-engine correlations vs the split-half ones of each engine
        h = {e: (q[e][:2].mean(axis=0), q[e][2:].mean(axis=0)) for e in q}
        within = [np.corrcoef(*h[e])[0, 1] for e in h]
        cross = [np.corrcoef(x, y)[0, 1] for x in h["lammps"] for y in h["openmm"]]
        r = float(np.mean(within))
        assert r > 0.3, within        # the propensity is structured: the comparison is not vacuous
        assert np.mean(cross) > r - CORR_SLACK, (within, cross)
