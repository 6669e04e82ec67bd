"""``glassfix reproduce tglassmlp``: the tGlassMLP paper (Jung, Biroli & Berthier 2024) at CPU scale.

Stages, each resumable and skipped or continued when its output exists (``shared/science/001_jung.md`` §6):

a. **swap** — equilibrium JBB configurations per temperature from the ``glassfix swap`` ladder, or existing
   ladder stores (``--swap-store A [B …]``; they may still be running: they are read through one merged
   snapshot copy, never written; labels come from A, predictions also use B's samples at the temperatures
   A lacks, e.g. a deep ladder with few samples per T);
b. **labels** — per label temperature, samples are copied into ``WORKDIR/iso/T<T>.h5`` and the ``glassfix iso
   --out-labels bonds --times bb:…`` machinery adds N_R NVE replicas and bond-breaking labels at the times
   where ⟨C̄_B⟩ reaches the Table-1 targets (placed by pilot runs); temperatures whose samples do not exist
   yet are skipped (rerun later);
c. **tts** — ⟨C̄_B⟩(t) per T, τα^BB (0.5 crossing or TTS shift), master curve, Arrhenius fit;
d. **features** — descriptors of the labelled frames and of the predicted swap samples (cached; runs while
   labels are made); **train** — transfer / direct / single-state baseline models (the tGlassMLP trainer);
e. **predict** — ρ_P, χ4, chords on test configurations; predictions at every swap T; **bigbox** — ξ4 from
   MD labels and from predictions on a 3 × 3 tiled, MD-decorrelated box (:mod:`.tglassmlp_bigbox`);
   **otf** — the model inside an NVE run;
f. **report** — ``docs/tglassmlp.md`` with the *paper | ours | conditions* table.

Modules: :mod:`.tglassmlp_data` (a–c, scales), :mod:`.tglassmlp_analysis`, :mod:`.tglassmlp_model` (d, e),
:mod:`.tglassmlp_report` (f). Units: LJ reduced units (times τ, temperatures ε/k_B, lengths σ).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable

from glassfix.core.atomic import atomic_write_json
from glassfix.reproduce.tglassmlp_data import SCALES, STAGES, merged_snapshot, stage_labels, stage_swap, stage_tts

__all__ = ["run"]


def run(scale: str, work: Path, report: Path, swap_store: Path | list[Path] | None = None,
        stages: list[str] | None = None,
        only_T: list[float] | None = None, workers: int = 1, max_frames: int | None = None, command: str = "",
        ladder_command: str = "", held_out: list[float] | None = None,
        say: Callable[[str], None] = print) -> dict[str, Any]:
    """Run (or resume) the requested stages of ``glassfix reproduce tglassmlp`` in ``work``; see the module doc."""
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; choose from {', '.join(SCALES)}")
    stages = list(stages or STAGES)
    bad = [s for s in stages if s not in STAGES]
    if bad:
        raise ValueError(f"unknown stage(s) {bad}; choose from {', '.join(STAGES)}")
    cfg = SCALES[scale]
    if held_out:  # the temperatures the transfer model must not train on (their labels only evaluate it)
        import dataclasses

        held = [float(t) for t in held_out]
        cfg = dataclasses.replace(cfg, labels=[dataclasses.replace(
            p, role="transfer" if any(abs(p.T - t) < 1e-9 for t in held) else p.role) for p in cfg.labels])
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    log_path = work / "stages.json"
    log = json.loads(log_path.read_text()) if log_path.exists() else {"scale": scale, "runs": []}
    t0 = time.perf_counter()
    out: dict[str, Any] = {}
    stores = ([Path(swap_store)] if isinstance(swap_store, (str, Path)) else [Path(p) for p in swap_store or []])
    if "swap" in stages and not stores:
        stores = [stage_swap(cfg, work, say)]
    stores = stores or [work / "swap.h5"]
    missing = [str(p) for p in stores if not p.exists()]
    if any(s in stages for s in ("labels", "features", "predict", "bigbox")):
        if missing:
            raise FileNotFoundError(f"swap store(s) {', '.join(missing)} not found: run stage swap or pass "
                                    "--swap-store")
        # one consistent copy of the (possibly still running) ladders for every stage of this invocation
        merged_snapshot(stores, work)
    if "labels" in stages:
        out["labels"] = stage_labels(cfg, work / "swap_snapshot.h5", work, say, only=only_T, workers=workers,
                                     max_frames=max_frames)
    if "tts" in stages:
        out["tts"] = stage_tts(work, cfg)
        say(f"tts: τα^BB = {out['tts']['taus']} ({out['tts']['method']})")
    if any(s in stages for s in ("features", "train", "predict", "bigbox", "otf")):
        from glassfix.reproduce import tglassmlp_model as tm

        if "features" in stages:
            out["features"] = tm.stage_features(cfg, work, say)
        if "train" in stages:
            out["train"] = tm.stage_train(cfg, work, say)
        if "predict" in stages:
            out["predict"] = tm.stage_predict(cfg, work, say)
        if "bigbox" in stages:
            from glassfix.reproduce.tglassmlp_bigbox import stage_bigbox

            out["bigbox"] = stage_bigbox(cfg, work, say)
        if "otf" in stages:
            out["otf"] = tm.stage_otf(cfg, work, say)
    if "report" in stages:
        from glassfix.reproduce.tglassmlp_report import write_report

        out["report"] = str(write_report(cfg, work, report, stores, command=command, say=say,
                                         ladder_command=ladder_command))
    # re-read: another invocation (e.g. a stage run beside a long one) may have logged since this one began
    log = json.loads(log_path.read_text()) if log_path.exists() else log
    log["runs"].append({"stages": stages, "wall_s": time.perf_counter() - t0, "command": command,
                        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())})
    atomic_write_json(log_path, log, default=float)
    return out
