"""On-the-fly predictions in the protocols: ``fix glass/predict`` attached to a protocol's LAMMPS session.

A protocol spec with ``model`` (a ``*.glassfix`` file) evaluates it every ``predict_every`` steps (NVE,
creep MD: MD steps; AQS: strain steps, on each minimum) and on every minimised creep snapshot:

* ``predictions.csv``: ``step`` (+ ``time`` τ or ``gamma``) and the group mean of every model output
  (``<output>_mean``, the fix's global vector ``f_ID[k]``; NaN rows of species without a head are skipped);
* per-atom values on the protocol's frames (``frames/*.npz`` and the dataset store) as labels
  ``predict/<output>``: NVE frames, creep MD frames (``save_md_frames``), the minimised creep snapshots
  and the AQS minima that are saved.

``predict_mode`` None picks what the model can do: ``gather`` for an unbounded receptive field (Voronoi
descriptors: looseness) or a torch network (BOTAN: one evaluation of the whole graph), else ``local`` with a
static ghost shell of receptive field + neighbour skin (``comm_modify cutoff``). The values equal
``glassfix predict`` on the same frame (``tests/integration/test_protocol_predict.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from glassfix.protocols.common import LammpsSession, ProtocolError, fmt, quote, read_ave_time

__all__ = ["OnTheFly", "PRED_FIX", "check_predict_fields", "label_name"]

#: LAMMPS fix ID of the protocols' prediction fix
PRED_FIX = "gf_pred"
#: the protocols' neighbour skin (``common_settings``: ``neighbor 0.3 bin``)
_SKIN = 0.3
_MODES = (None, "local", "gather")


def label_name(output: str) -> str:
    """Store/frame label of a model output evaluated on the fly: ``predict/<output>``."""
    return f"predict/{output}"


def check_predict_fields(spec: Any, frames_every: int | None = None, what: str = "frame_every") -> None:
    """Validate ``model``/``predict_every``/``predict_mode`` of a spec (ProtocolError naming the value).

    ``frames_every``: the interval of frames that carry per-atom values; it must be a multiple of
    ``predict_every`` so that the fix's values belong to the saved configuration.
    """
    model, every, mode = spec.model, spec.predict_every, spec.predict_mode
    if mode not in _MODES:
        raise ProtocolError(f"predict_mode must be 'local' or 'gather' (or None: chosen from the model), got {mode!r}")
    if every is not None and int(every) < 1:
        raise ProtocolError(f"predict_every must be >= 1, got {every}")
    if model is None:
        if every is not None or mode is not None:
            raise ProtocolError("predict_every/predict_mode (--every/--mode) need a model (--model FILE.glassfix)")
        return
    object.__setattr__(spec, "model", str(model))
    if every is not None and frames_every and int(frames_every) % int(every):
        raise ProtocolError(f"{what} ({frames_every}) must be a multiple of predict_every ({every}) so that "
                            f"the saved frames carry the predictions of their own configuration")


@dataclass
class OnTheFly:
    """The prediction fix of one protocol run (every rank builds the same one)."""

    model: str
    every: int
    mode: str
    output_names: list[str]
    receptive_field: float
    kind: str
    ghost_shell: float = 0.0    # ghost cutoff mode local needs (besides the skin); see describe_model

    @classmethod
    def from_spec(cls, spec: Any, default_every: int) -> "OnTheFly | None":
        """None without ``spec.model``; else the fix settings, the model loaded once to check it runs."""
        if not getattr(spec, "model", None):
            return None
        from glassfix.engines.lammps.model_modes import BridgeError, choose_mode, describe_model

        path = str(Path(spec.model))
        try:
            info = describe_model(path)
            mode = spec.predict_mode or info["mode"]
            choose_mode(info["model"], mode, f"'{path}'")
        except BridgeError as exc:
            raise ProtocolError(str(exc).replace("'mode local'", "mode local (--mode local)")
                                .replace("use 'mode gather'", "use --mode gather")) from None
        return cls(path, int(spec.predict_every or default_every), mode, info["outputs"],
                   info["receptive_field"], info["kind"], info["ghost_shell"])

    # ---------------------------------------------------------------- LAMMPS
    def commands(self, every: int | None = None) -> list[str]:
        """``plugin load`` (harmless twice), the ghost shell of mode local, the fix."""
        from glassfix.engines.lammps.plugin import plugin_path

        cmds = [f"plugin load {quote(plugin_path())}"]
        if self.mode == "local":
            # the fix stops unless ghosts cover receptive field + skin; a static shell costs nothing extra
            # on steps without evaluation beyond the larger ghost count
            # (message-passing models run distributed: one edge cutoff, not their whole receptive field)
            cmds.append(f"comm_modify cutoff {fmt((self.ghost_shell or self.receptive_field) + _SKIN + 1e-6)}")
        cmds.append(f"fix {PRED_FIX} all glass/predict {int(every or self.every)} model {quote(self.model)} "
                    f"mode {self.mode}")
        return cmds

    def attach(self, s: LammpsSession, every: int | None = None) -> None:
        """Add the fix to ``s`` (evaluated at the setup of every run and every ``every`` steps)."""
        s.commands(self.commands(every))

    def evaluate_now(self, s: LammpsSession) -> tuple[np.ndarray, dict[str, float]]:
        """Attach, ``run 0`` (the fix evaluates at setup; positions unchanged), read, detach: for minima."""
        self.attach(s, every=1)
        try:
            s.command("run 0")
            return self.values(s), self.means(s)
        finally:
            s.command(f"unfix {PRED_FIX}")

    def means(self, s: LammpsSession) -> dict[str, float]:
        """``{<output>_mean: value}`` of the last evaluation (the fix's global vector; same on all ranks)."""
        return {f"{name}_mean": float(s.lmp.extract_fix(PRED_FIX, 0, 1, k)) for k, name in enumerate(self.output_names)}

    def values(self, s: LammpsSession) -> np.ndarray:
        """Per-atom values (N, n_outputs) of the last evaluation, rows by atom id (collective: every rank)."""
        n = len(self.output_names)
        ids = np.array(np.ctypeslib.as_array(s.lmp.gather_concat("id", 0, 1)), copy=True).astype(np.int64)
        vals = np.array(np.ctypeslib.as_array(s.lmp.gather_concat(f"f_{PRED_FIX}", 1, n)), copy=True)
        return vals.reshape(-1, n)[np.argsort(ids, kind="stable")]

    def labels(self, values: np.ndarray | None) -> dict[str, np.ndarray]:
        """Frame labels ``predict/<output>`` of per-atom ``values`` (empty for None)."""
        if values is None:
            return {}
        return {label_name(name): values[:, k].copy() for k, name in enumerate(self.output_names)}

    def columns(self, first: str) -> list[str]:
        """Columns of ``predictions.csv``: ``step``, ``first`` (time or gamma), one mean per output."""
        return ["step", first, *[f"{name}_mean" for name in self.output_names]]

    # ---------------------------------------------------------------- series of the MD fix
    def begin_series(self, s: LammpsSession, tmp: Path, root: bool) -> None:
        """Sample the means every ``every`` steps of the next run into ``tmp`` (``fix ave/time``)."""
        if root and tmp.exists():
            tmp.unlink()
        values = " ".join(f"f_{PRED_FIX}[{k + 1}]" for k in range(len(self.output_names)))
        s.command(f'fix gf_pred_series all ave/time {self.every} 1 {self.every} {values} file {quote(tmp)} '
                  f'format " %.17g"')

    def end_series(self, s: LammpsSession, tmp: Path, root: bool, keep_from: int) -> list[dict[str, float]]:
        """Stop sampling; the rows with step ≥ ``keep_from`` (rank 0; others get [])."""
        s.command("unfix gf_pred_series")
        if not root or not tmp.exists():
            return []
        return read_ave_time(tmp, [f"{name}_mean" for name in self.output_names], keep_from)
