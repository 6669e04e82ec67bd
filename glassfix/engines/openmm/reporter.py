"""An OpenMM reporter that evaluates a glassfix model every N steps (the OpenMM twin of ``fix glass/predict``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from glassfix.core.frame import Frame

__all__ = ["PredictorReporter", "frame_from_state"]


def frame_from_state(state, types: np.ndarray, species: Sequence[str] | None, step: int = 0, dim: int = 3) -> Frame:
    """Frame (σ units) of an OpenMM State holding positions (nm = σ) and its periodic box; ``dim=2`` keeps x, y
    (the plane of a 2D system, :mod:`glassfix.engines.openmm.system`)."""
    pos = np.asarray(state.getPositions(asNumpy=True)._value, dtype=np.float64)[:, :dim]
    box = np.asarray(state.getPeriodicBoxVectors(asNumpy=True)._value, dtype=np.float64)[:dim, :dim]
    return Frame(positions=pos, types=np.asarray(types, dtype=np.int64), cell=box,
                 species=tuple(species) if species is not None else None, step=int(step),
                 time=float(state.getTime()._value))


class PredictorReporter:
    """Every ``interval`` steps: ``model.predict`` on the atoms of ``group`` (default: all).

    ``values`` (N, n_outputs) holds the latest per-atom outputs (0 outside the group, as the fix),
    ``means`` their group means (NaN entries skipped), ``history`` (step, means) of every report.
    ``dump``: a LAMMPS ``dump custom`` file (id type x y z and one column per output, full precision,
    appended per report), readable by ``glassfix.data.lammps_io.read_dump_frames`` and
    ``glassfix predict``. ``log``: a whitespace table of step and means (appended). OpenMM does not report
    at step 0: call :meth:`report_now` before the first ``step`` for the values of the initial state (the
    fix evaluates at setup).

    ``types``: 0-based type of every particle in the model's species order (``species``), e.g.
    ``frame.types`` of the frame the Simulation was built from; ``dim``: 2 for a 2D system. ``device``: where a
    torch model (BOTAN) evaluates, auto|cpu|cuda as the fix's keyword (glassfix.models.device).
    """

    def __init__(self, model: Any, interval: int, types: np.ndarray, species: Sequence[str] | None = None,
                 group: np.ndarray | None = None, dump: str | os.PathLike[str] | None = None,
                 log: str | os.PathLike[str] | None = None, dim: int = 3, device: str = "auto") -> None:
        if isinstance(model, (str, os.PathLike)):
            from glassfix.models import load_model

            model = load_model(model)
        if int(interval) < 1:
            raise ValueError(f"interval must be >= 1 step, got {interval}")
        if dim not in (2, 3):
            raise ValueError(f"dim must be 2 or 3, got {dim}")
        self.dim = int(dim)
        from glassfix.models.device import place_model

        self.device = place_model(model, device, "PredictorReporter")
        self.model = model
        self.interval = int(interval)
        self.types = np.asarray(types, dtype=np.int64)
        self.species = list(species) if species is not None else list(model.species)
        n = self.types.size
        self.group = np.arange(n) if group is None else np.asarray(group, dtype=np.int64)
        self.values = np.zeros((n, model.n_outputs))
        self.means = np.full(model.n_outputs, np.nan)
        self.history: list[tuple[int, np.ndarray]] = []
        self.dump = Path(dump) if dump is not None else None
        self.log = Path(log) if log is not None else None
        self._last = -1
        if self.log is not None and not self.log.exists():
            self.log.write_text("# step " + " ".join(f"mean_{o}" for o in model.output_names) + "\n")

    def describeNextReport(self, simulation) -> dict[str, Any]:  # noqa: N802 (OpenMM's name)
        """OpenMM reporter protocol: positions every ``interval`` steps (unwrapped)."""
        steps = self.interval - simulation.currentStep % self.interval
        return {"steps": steps, "periodic": False, "include": ["positions"]}

    def report(self, simulation, state) -> None:
        """OpenMM reporter protocol: evaluate the model on the current positions."""
        self.evaluate(frame_from_state(state, self.types, self.species, simulation.currentStep, self.dim))

    def report_now(self, simulation) -> np.ndarray:
        """Evaluate on the Simulation's current state (e.g. at step 0); returns ``values``."""
        state = simulation.context.getState(getPositions=True)
        self.evaluate(frame_from_state(state, self.types, self.species, simulation.currentStep, self.dim))
        return self.values

    def evaluate(self, frame: Frame) -> None:
        """Evaluate the model on ``frame`` (σ units) and record values, means, log and dump (once per step)."""
        if frame.step == self._last:
            return
        if not np.isfinite(frame.positions).all():
            raise FloatingPointError(f"non-finite positions at step {frame.step}: the simulation blew up "
                                     "(time step too large, or overlapping particles)")
        pred = np.asarray(self.model.predict(frame, centers=self.group), dtype=np.float64)
        self.values[:] = 0.0
        self.values[self.group] = pred.reshape(self.group.size, -1)
        with np.errstate(invalid="ignore"):
            self.means = np.array([np.nanmean(c) if np.isfinite(c).any() else np.nan for c in pred.T])
        self._last = frame.step
        self.history.append((frame.step, self.means.copy()))
        if self.log is not None:
            with self.log.open("a") as f:
                f.write(f"{frame.step} " + " ".join(f"{m:.17g}" for m in self.means) + "\n")
        if self.dump is not None:
            self._write_dump(frame)

    def _write_dump(self, frame: Frame) -> None:
        # a 2D frame is written as LAMMPS writes 2D dumps: z = 0 in z bounds [-0.5, 0.5]
        cell = np.eye(3)
        cell[:frame.dim, :frame.dim] = frame.cell
        pos3 = np.zeros((frame.n_atoms, 3))
        pos3[:, :frame.dim] = frame.positions
        zlo = 0.0 if frame.dim == 3 else -0.5
        xy, xz, yz = cell[1, 0], cell[2, 0], cell[2, 1]
        lx, ly, lz = cell[0, 0], cell[1, 1], cell[2, 2]
        tri = bool(xy or xz or yz)
        cols = " ".join(self.model.output_names)
        lines = ["ITEM: TIMESTEP", str(frame.step), "ITEM: NUMBER OF ATOMS", str(frame.n_atoms)]
        if tri:
            # LAMMPS bounding box of a restricted triclinic cell with origin 0
            xlo_b = min(0.0, xy, xz, xy + xz)
            xhi_b = lx + max(0.0, xy, xz, xy + xz)
            ylo_b, yhi_b = min(0.0, yz), ly + max(0.0, yz)
            lines += ["ITEM: BOX BOUNDS xy xz yz pp pp pp", f"{xlo_b:.17g} {xhi_b:.17g} {xy:.17g}",
                      f"{ylo_b:.17g} {yhi_b:.17g} {xz:.17g}", f"{zlo:.17g} {zlo + lz:.17g} {yz:.17g}"]
        else:
            lines += ["ITEM: BOX BOUNDS pp pp pp", f"0 {lx:.17g}", f"0 {ly:.17g}", f"{zlo:.17g} {zlo + lz:.17g}"]
        lines.append(f"ITEM: ATOMS id type x y z {cols}")
        body = [f"{i + 1} {t + 1} {p[0]:.17g} {p[1]:.17g} {p[2]:.17g} " + " ".join(f"{v:.17g}" for v in vals)
                for i, (t, p, vals) in enumerate(zip(frame.types, pos3, self.values))]
        # one write per frame, appended: a crash leaves whole earlier frames
        with self.dump.open("a") as f:
            f.write("\n".join(lines + body) + "\n")
