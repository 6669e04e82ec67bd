"""Athermal quasistatic (AQS) simple shear with plastic-event detection.

Protocol (``shared/science/000_ace.md`` §1.3, §6): from a minimised glass (``data``, or ``prepare`` =
:meth:`PrepareSpec.for_aqs`), the box is made triclinic and sheared in ``plane`` (``xy``: displacement
along x, gradient along y) in steps of ``dgamma``: the tilt is set to ``tilt0 + n·δγ·L_gradient``
(``change_box all xy final … remap units box`` — an affine remap of all atoms; setting the final value
rather than adding increments keeps γ_n exact over thousands of steps and across restarts), then the
energy is minimised (CG, ``min_etol`` = 0, ``min_ftol`` = 1e-10 by default). ``prestrain`` (10 %) is
applied first to erase the preparation history, then data are collected over ``strain`` (1 %).
``relax=False`` skips the minimisation (purely affine steps; a diagnostic).

Per step (``series.csv``): γ, potential energy per atom, the stress tensor (LAMMPS' pressure tensor;
the shear stress is σ = −P_plane, positive for positive γ), CG iterations, the final force norm, and
D²min between consecutive minima (Falk–Langer, sum over neighbours within ``d2min_rcut`` at the
earlier minimum; ``glassfix.labels.d2min``) over the atoms of ``d2min_types`` (default: type A only).

Plastic events (step n, comparing the minima n−1 and n; each criterion is its own column):

* ``event_stress``: the shear stress drops, σ_n − σ_{n−1} < −``stress_drop_tol``;
* ``event_energy``: the energy falls below the elastic prediction, i.e. the residual
  ΔU/N − (V/N)·½(σ_n + σ_{n−1})·δγ < −``energy_drop_tol`` (for an elastic step the work done by the
  affine shear, V∫σ dγ, equals ΔU to O(δγ³), so the residual is ~0; a plastic step releases energy);
* ``event_d2min``: max D²min > ``d2min_threshold`` (0.6 σ², ``000_ace.md`` §3.2);
* ``event`` = any of the three.

Frames (``frames/aqs_<n>.npz``) in the collection window: the minimum n with its *forward* D²min
(n → n+1) as the per-atom label ``d2min/rcut=…,dgamma=…,normalize=…`` — every ``save_every`` steps,
and, with ``save_events``, the minimum just before every event (the configuration whose structure the
ACE classifier sees).
With ``model``: the model on every ``predict_every``-th minimum (``predictions.csv``; ``predict/<output>``
labels on the saved minima), see ``glassfix.protocols.predict``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from glassfix.analysis.mechanics import detect_events
from glassfix.core.frame import Frame
from glassfix.protocols.base import ProtocolRun, common_settings, load_start_commands, thermo_by_keyword
from glassfix.protocols.common import LammpsSession, ProtocolError, fmt, quote
from glassfix.protocols.predict import OnTheFly, check_predict_fields
from glassfix.protocols.prepare import PrepareSpec
from glassfix.protocols.specs import StartSpecMixin

__all__ = ["AQSSpec", "AQSRun", "detect_events"]

_PLANES = {"xy": ("xy", 1, "pxy"), "xz": ("xz", 2, "pxz"), "yz": ("yz", 2, "pyz")}


@dataclass
class AQSSpec(StartSpecMixin):
    """AQS simple shear; see the module docstring.

    Units: strains dimensionless; ``d2min_rcut`` σ_AA; ``d2min_threshold`` σ_AA² (sum normalisation);
    ``stress_drop_tol`` ε_AA/σ_AA³; ``energy_drop_tol`` ε_AA per atom. ``checkpoint_every`` in AQS steps;
    ``save_every`` = 0 saves no periodic frames.
    """

    system: str = "ka3d"
    system_options: dict[str, Any] = field(default_factory=dict)
    data: str | None = None
    prepare: PrepareSpec | None = None
    start_from: str = "inherent"
    dgamma: float = 5e-5
    prestrain: float = 0.10
    strain: float = 0.01
    plane: str = "xy"
    relax: bool = True
    min_style: str = "cg"
    min_etol: float = 0.0
    min_ftol: float = 1e-10
    min_maxiter: int = 100000
    min_maxeval: int = 1000000
    min_line: str = "quadratic"
    d2min_rcut: float = 2.5
    d2min_normalize: str = "sum"
    d2min_threshold: float = 0.6
    d2min_types: tuple[int, ...] | None = (0,)
    stress_drop_tol: float = 1e-6
    energy_drop_tol: float = 1e-6
    save_every: int = 0
    save_events: bool = True
    checkpoint_every: int = 100
    model: str | None = None
    predict_every: int | None = None
    predict_mode: str | None = None
    group: str | None = None

    def __post_init__(self) -> None:
        self._validate_start()
        if self.plane not in _PLANES:
            raise ProtocolError(f"plane must be one of {sorted(_PLANES)}, got {self.plane!r}")
        if not self.dgamma > 0:
            raise ProtocolError(f"dgamma must be > 0, got {self.dgamma}")
        for name in ("prestrain", "strain"):
            v = float(getattr(self, name))
            n = round(v / self.dgamma)
            if v < 0 or abs(n * self.dgamma - v) > 1e-9 * max(1.0, v):
                raise ProtocolError(f"{name} = {v} must be >= 0 and a whole number of dgamma = {self.dgamma} steps")
        if self.n_steps < 1:
            raise ProtocolError("prestrain + strain must be at least one dgamma step")
        if self.d2min_normalize not in ("sum", "mean"):
            raise ProtocolError(f"d2min_normalize must be 'sum' or 'mean', got {self.d2min_normalize!r}")
        if not self.d2min_rcut > 0:
            raise ProtocolError(f"d2min_rcut must be > 0, got {self.d2min_rcut}")
        if self.d2min_types is not None:
            self.d2min_types = tuple(int(t) for t in self.d2min_types)
        if self.stress_drop_tol < 0 or self.energy_drop_tol < 0:
            raise ProtocolError("stress_drop_tol and energy_drop_tol must be >= 0")
        if int(self.checkpoint_every) < 1 or int(self.save_every) < 0:
            raise ProtocolError(f"checkpoint_every ({self.checkpoint_every}) must be >= 1 and save_every "
                                f"({self.save_every}) >= 0")
        check_predict_fields(self, self.save_every or None, "save_every")

    @property
    def n_prestrain(self) -> int:
        """Number of pre-strain steps."""
        return int(round(self.prestrain / self.dgamma))

    @property
    def n_steps(self) -> int:
        """Total number of AQS steps (pre-strain + collection)."""
        return self.n_prestrain + int(round(self.strain / self.dgamma))

    def label_name(self) -> str:
        """Store label name of the forward D²min."""
        return f"d2min/rcut={self.d2min_rcut:g},dgamma={self.dgamma:g},normalize={self.d2min_normalize}"


class AQSRun(ProtocolRun):
    """Runner of :class:`AQSSpec` (use :func:`glassfix.protocols.run`)."""

    protocol = "aqs"
    spec_class = AQSSpec
    extendable = ("strain",)
    unit = "aqs step"

    def __init__(self, spec: AQSSpec, *args: Any, **kw: Any) -> None:
        super().__init__(spec, *args, **kw)
        self.tilt, self.grad, self.pkey = _PLANES[spec.plane]
        if self.grad >= int(self.system.dim):
            raise ProtocolError(f"plane {spec.plane!r} needs a 3D system")
        self.start_path = None
        self.prev: Frame | None = None
        self.add_series("series", ["step", "gamma", "phase", "pe", "pxx", "pyy", "pzz", "pxy", "pxz", "pyz",
                                   "sigma", "dsigma", "energy_residual", "iterations", "fnorm", "d2min_max",
                                   "d2min_mean", "n_active", "event_stress", "event_energy", "event_d2min",
                                   "event"])
        # the model on every predict_every-th minimum (AQS steps); the previous minimum's values label its frame
        self.otf = OnTheFly.from_spec(spec, 1)
        self.prev_pred: np.ndarray | None = None
        if self.otf is not None:
            self.add_series("predictions", self.otf.columns("gamma"))

    def total(self) -> int:
        """Pre-strain + collection steps."""
        return self.spec.n_steps

    def next_boundary(self, step: int) -> int:
        """Every AQS step is a segment."""
        return step + 1

    def is_checkpoint(self, step: int) -> bool:
        """Every ``checkpoint_every`` AQS steps."""
        return step % int(self.spec.checkpoint_every) == 0

    def _settings(self, s: LammpsSession) -> None:
        s.commands(common_settings(self.system, 0.005))

    def _relax(self, s: LammpsSession) -> int:
        if not self.spec.relax:
            s.command("run 0")
            return 0
        before = s.timestep
        s.commands(self.spec.min_settings().commands())
        return s.timestep - before

    def _load(self, s: LammpsSession) -> np.ndarray:
        """Load the start into a triclinic box at rest; returns the cell (3, 3)."""
        s.commands(load_start_commands(self.system, self.start_path))
        self._settings(s)
        if not int(s.lmp.extract_global("triclinic")):
            s.command("change_box all triclinic")
        s.command("velocity all set 0.0 0.0 0.0")
        return s.box()[0]

    def _minimum(self, s: LammpsSession, n: int) -> tuple[int, dict[str, float], Frame]:
        """Minimise at the current box: (iterations, thermo of the minimum, the minimum as a Frame)."""
        iters = self._relax(s)
        return iters, thermo_by_keyword(s), s.frame(self.system, step=n)

    def start(self, s: LammpsSession) -> None:
        """Load, make the box triclinic, minimise at γ = 0 (row 0)."""
        if self.start_path is None:
            raise ProtocolError("aqs: no starting configuration (internal: start_path unset)")
        cell = self._load(s)
        ti = {"xy": (1, 0), "xz": (2, 0), "yz": (2, 1)}[self.tilt]
        self.state_extras.update(tilt0=float(cell[ti]), L_gradient=float(cell[self.grad, self.grad]),
                                 n_atoms=s.natoms, n_events=0, n_events_prestrain=0)
        iters, th, self.prev = self._minimum(s, 0)
        self.prev_pred = None
        vol = float(th["vol"])
        self.state_extras.update(prev_sigma=-th[self.pkey], prev_pe=th["pe"], volume_per_atom=vol / s.natoms)
        row = {"step": 0, "gamma": 0.0, "phase": 0, **{k: th[k] for k in ("pe", "pxx", "pyy", "pzz", "pxy",
                                                                           "pxz", "pyz")},
               "sigma": -th[self.pkey], "dsigma": np.nan, "energy_residual": np.nan, "iterations": iters,
               "fnorm": th["fnorm"], "d2min_max": np.nan, "d2min_mean": np.nan, "n_active": 0,
               "event_stress": False, "event_energy": False, "event_d2min": False, "event": False}
        self.write_rows("series", [row])
        self.prev_pred = self._predict(s, 0)

    def _predict(self, s: LammpsSession, n: int) -> np.ndarray | None:
        """Evaluate the model on minimum ``n`` if it is a prediction step: values (N, k) by id, else None."""
        if self.otf is None or n % self.otf.every:
            return None
        values, means = self.otf.evaluate_now(s)
        self.write_rows("predictions", [{"step": n, "gamma": n * self.spec.dgamma, **means}])
        return values

    def restore(self, s: LammpsSession, state: Mapping[str, Any]) -> None:
        """Interactions; the previous minimum comes back from the checkpoint arrays."""
        self._settings(s)
        a = self.arrays
        self.prev = Frame(positions=a["prev_positions"], types=a["prev_types"], cell=a["prev_cell"],
                          origin=a["prev_origin"], ids=a["prev_ids"], unwrapped=a["prev_unwrapped"],
                          species=tuple(self.system.species), step=int(state["step"]),
                          metadata={"system": self.system.name})
        self.prev_pred = a.get("prev_pred")

    def extra_arrays(self) -> dict[str, np.ndarray]:
        """The previous minimum (needed for the next D²min)."""
        p = self.prev
        assert p is not None
        out = {"prev_positions": p.positions, "prev_unwrapped": p.unwrapped, "prev_types": p.types,
               "prev_ids": p.ids, "prev_cell": p.cell, "prev_origin": p.origin}
        if self.prev_pred is not None:
            out["prev_pred"] = self.prev_pred
        return out

    def _step_to(self, s: LammpsSession, tilt: float, n: int) -> tuple[int, dict[str, float], Frame]:
        """Set the tilt (affine remap), minimise: (iterations, thermo of the minimum, the minimum as a Frame)."""
        s.command(f"change_box all {self.tilt} final {fmt(tilt)} remap units box")
        return self._minimum(s, n)

    def advance(self, s: LammpsSession, step: int, to: int) -> None:
        """One AQS step: affine tilt + remap, minimisation, D²min, events, frames."""
        from glassfix.labels.d2min import d2min

        sp = self.spec
        ex = self.state_extras
        n = to
        iters, th, cur = self._step_to(s, ex["tilt0"] + n * sp.dgamma * ex["L_gradient"], n)
        cur_pred = self._predict(s, n)
        prev = self.prev
        assert prev is not None
        # D²min on rank 0 only (every rank holds the gathered frames); the scalars that steer the loop
        # are broadcast so that all ranks take the same decisions
        d2 = None
        stats = (float("nan"), float("nan"), 0)
        if self.root:
            ref = Frame(positions=prev.unwrapped, types=prev.types, cell=prev.cell, origin=prev.origin,
                        ids=prev.ids)
            d2, _ = d2min(ref, cur.unwrapped, sp.d2min_rcut, normalize=sp.d2min_normalize, cell1=cur.cell)
            mask = (np.ones(cur.n_atoms, dtype=bool) if sp.d2min_types is None
                    else np.isin(cur.types, sp.d2min_types))
            sel = d2[mask]
            finite = sel[np.isfinite(sel)]
            if finite.size:
                stats = (float(finite.max()), float(finite.mean()),
                         int(np.count_nonzero(finite > sp.d2min_threshold)))
        if self.comm is not None:
            stats = self.comm.bcast(stats, root=0)
        d2max, d2mean, n_active = stats
        sigma = -th[self.pkey]
        ev = detect_events(np.array([ex["prev_sigma"], sigma]), np.array([ex["prev_pe"], th["pe"]]),
                           ex["volume_per_atom"], sp.dgamma, np.array([np.nan, d2max]), sp.stress_drop_tol,
                           sp.energy_drop_tol, sp.d2min_threshold)
        collect = n > sp.n_prestrain
        row = {"step": n, "gamma": n * sp.dgamma, "phase": int(collect),
               **{k: th[k] for k in ("pe", "pxx", "pyy", "pzz", "pxy", "pxz", "pyz")}, "sigma": sigma,
               "dsigma": ev["dsigma"][1], "energy_residual": ev["energy_residual"][1], "iterations": iters,
               "fnorm": th["fnorm"], "d2min_max": d2max, "d2min_mean": d2mean,
               "n_active": n_active,
               **{k: bool(ev[k][1]) for k in ("event_stress", "event_energy", "event_d2min", "event")}}
        self.write_rows("series", [row])
        event = bool(ev["event"][1])
        if event:
            key = "n_events" if collect else "n_events_prestrain"
            ex[key] = int(ex.get(key, 0)) + 1
        # the previous minimum, labelled with its forward D²min, enters the dataset
        m = n - 1
        if m >= sp.n_prestrain and ((sp.save_every and (m - sp.n_prestrain) % int(sp.save_every) == 0)
                                    or (sp.save_events and event)):
            out = Frame(positions=prev.positions, types=prev.types, cell=prev.cell, origin=prev.origin,
                        ids=prev.ids, species=prev.species, unwrapped=prev.unwrapped, step=m,
                        metadata={"system": self.system.name, "kind": "aqs", "gamma": m * sp.dgamma,
                                  "sigma": ex["prev_sigma"], "pe": ex["prev_pe"], "T": 0.0,
                                  "next_event": event, "next_event_stress": bool(ev["event_stress"][1]),
                                  "next_event_energy": bool(ev["event_energy"][1]),
                                  "next_event_d2min": bool(ev["event_d2min"][1]), "next_d2min_max": d2max})
            labels = {sp.label_name(): d2} if d2 is not None else {}
            if self.otf is not None:
                labels.update(self.otf.labels(self.prev_pred))
            self.save_frame(out, "aqs", m, labels=labels or None)
        ex["prev_sigma"], ex["prev_pe"] = sigma, th["pe"]
        self.prev = cur
        self.prev_pred = cur_pred

    def _write_final(self, s: LammpsSession) -> None:
        s.command(f"write_data {quote(self.wd.path / 'final.data')}")

    def finish(self, s: LammpsSession) -> dict[str, Any]:
        """final.data (the last minimum) and the summary."""
        self._write_final(s)
        ex = self.state_extras
        summary: dict[str, Any] = {"dgamma": self.spec.dgamma, "gamma_final": self.total() * self.spec.dgamma,
                                   "n_prestrain": self.spec.n_prestrain, "n_events": int(ex.get("n_events", 0)),
                                   "n_events_prestrain": int(ex.get("n_events_prestrain", 0)),
                                   "sigma_final": float(ex["prev_sigma"]), "pe_final": float(ex["prev_pe"])}
        if self.root:
            ser = self.series["series"].read()
            col = ser["phase"] == 1
            if col.any():
                summary.update(sigma_mean_collect=float(np.mean(ser["sigma"][col])),
                               sigma_max=float(np.max(ser["sigma"])))
        return summary
