"""``glassfix reproduce tglassmlp`` plumbing on small synthetic stores: label plans, copying samples out of a
ladder store, the TTS stage from stored labels and pilot curves, and the report on what exists."""

from __future__ import annotations

import json

import numpy as np
import pytest

from glassfix.core.frame import Frame
from glassfix.data.store import DatasetStore
from glassfix.reproduce.tglassmlp_data import SCALES, LabelPlan, copy_samples, load_labels, snapshot_store, stage_tts


def _frame(seed: int, n: int = 40, box: float = 6.0) -> Frame:
    rng = np.random.default_rng(seed)
    return Frame(positions=rng.uniform(0, box, size=(n, 2)), types=np.arange(n) % 3,
                 cell=np.eye(2) * box)


def test_label_plan_spec_follows_table1():
    assert LabelPlan(0.6, 4, 4, 0.5, 600.0).spec() == "bb:0.99,0.94,0.9,0.85,0.8,0.75,0.65,0.5:600"
    assert LabelPlan(0.45, 4, 4, 0.8, 1500.0).spec() == "bb:0.99,0.94,0.9,0.85,0.8:1500"
    assert {p.role for p in SCALES["small"].labels} == {"train", "transfer"}


def test_copy_samples_by_temperature_and_resume(tmp_path):
    src = tmp_path / "swap.h5"
    with DatasetStore(src, "w") as ds:
        for T in (0.6, 0.5):
            for k in range(3):
                ds.add_frame(_frame(k + int(T * 10)), key=f"swap/jbb/T{T:g}/{k:05d}", group=f"g{T}{k}",
                             system="jbb", temperature=T)
    snap = snapshot_store(src, tmp_path / "snap.h5")
    dst = tmp_path / "iso.h5"
    assert copy_samples(snap, dst, 0.5, 2) == ["swap/jbb/T0.5/00000", "swap/jbb/T0.5/00001"]
    assert copy_samples(snap, dst, 0.5, 5) == [f"swap/jbb/T0.5/{k:05d}" for k in range(3)]
    with DatasetStore(dst, "r") as ds, DatasetStore(src, "r") as s0:
        assert ds.keys() == [f"swap/jbb/T0.5/{k:05d}" for k in range(3)]
        k = "swap/jbb/T0.5/00001"
        assert np.array_equal(ds.frame(k).positions, s0.frame(k).positions)
        assert ds.frame_info(k)["temperature"] == 0.5


def test_merged_snapshot_adds_only_missing_temperatures(tmp_path):
    from glassfix.reproduce.tglassmlp_data import merged_snapshot

    def store(path, temps, n, seed):
        with DatasetStore(path, "w") as ds:
            for T in temps:
                for k in range(n):
                    ds.add_frame(_frame(seed + k + int(T * 100)), key=f"swap/jbb/T{T:g}/{k:05d}", group=f"g{T}{k}",
                                 system="jbb", temperature=T)
        return path

    main = store(tmp_path / "main.h5", (0.6, 0.5), 3, 0)
    deep = store(tmp_path / "deep.h5", (0.6, 0.5, 0.35, 0.3), 2, 1000)
    snap = merged_snapshot([main, deep], tmp_path / "work")
    assert snap == tmp_path / "work" / "swap_snapshot.h5"
    with DatasetStore(snap, "r") as s, DatasetStore(main, "r") as m, DatasetStore(deep, "r") as d:
        keys = s.keys()
        assert sorted(keys) == sorted(m.keys() + [k for k in d.keys() if "/T0.3" in k])
        for k in keys:  # the main store's samples win at the shared temperatures
            src = m if k in m.keys() else d
            assert np.array_equal(s.frame(k).positions, src.frame(k).positions)
    assert not list((tmp_path / "work").glob("swap_snapshot_extra*"))


def _kww(t, tau):
    return np.exp(-np.log(2) * (t / tau) ** 0.6)  # 0.5 at t = tau


def test_stage_tts_from_stored_labels(tmp_path):
    cfg = SCALES["small"]
    taus_true = {0.6: 100.0, 0.55: 300.0, 0.5: 3000.0}
    (tmp_path / "iso").mkdir()
    for T, tau in taus_true.items():
        store = tmp_path / "iso" / f"T{T:.6g}.h5"
        t_lab = [1.0, 30.0, 200.0]
        with DatasetStore(store, "w") as ds:
            for k in range(3):
                f = _frame(k)
                labels = {f"bond_breaking/t={t:g}": (np.full(f.n_atoms, _kww(t, tau)), {"bb_target": 0.9})
                          for t in t_lab}
                ds.add_frame(f, key=f"swap/jbb/T{T:g}/{k:05d}", group=f"g{k}", system="jbb", temperature=T,
                             labels=labels)
        pt = np.geomspace(0.005, 1000.0, 48)
        summ = {"grids": {f"{T:g}": {"pilot_times": pt.tolist(), "pilot_curve": _kww(pt, tau).tolist()}},
                "stage_wall_s": 1.0, "total_wall_s": 1.0}
        store.with_suffix(".summary.json").write_text(json.dumps(summ))
    lab = load_labels(tmp_path / "iso" / "T0.6.h5")
    assert len(lab["keys"]) == 3 and lab["C"]["t=30"].shape == (3, 14)  # type-0 atoms only
    res = stage_tts(tmp_path, cfg)
    assert res["method"] == {"0.6": "crossing", "0.55": "crossing", "0.5": "tts-shift"}
    for T, tau in taus_true.items():
        assert res["taus"][f"{T:g}"] == pytest.approx(tau, rel=0.03)
    assert res["collapse_max_abs_dev"] < 0.02
    assert json.loads((tmp_path / "tts.json").read_text())["arrhenius"]["E"] > 0


def test_per_replica_bonds_average_to_the_stored_label(tmp_path):
    from glassfix.ensembles.labels import DEFAULT_BB_FACTORS, bond_breaking_cutoffs, compute_labels
    from glassfix.reproduce.tglassmlp_analysis import label_analysis, per_replica_bonds
    from glassfix.systems import get_system

    cut = bond_breaking_cutoffs(get_system("jbb"), DEFAULT_BB_FACTORS)
    store = tmp_path / "iso.h5"
    with DatasetStore(store, "w") as ds:
        for k in range(3):
            f = _frame(10 + k, n=60, box=7.0)
            rng = np.random.default_rng(k)
            reps = f.positions[None] + rng.normal(scale=0.35, size=(4, 60, 2))
            labels = compute_labels(f, {"t=10": reps}, bb_cut=cut, params={"bb_factors": list(DEFAULT_BB_FACTORS)},
                                    extra_params={"t=10": {"bb_target": 0.8}})
            ds.add_frame(f, key=f"k{k}", group=f"g{k}", system="jbb", temperature=0.6, labels=labels,
                         replicas={"t=10": reps})
    per = per_replica_bonds(store, "t=10")
    lab = load_labels(store)
    assert len(per) == 3 and per[0].shape == (4, 20)
    for p, c in zip(per, lab["C"]["t=10"]):
        assert np.nanmean(p, axis=0) == pytest.approx(c, nan_ok=True)
    res = label_analysis(store)
    (row,) = res["rows"]
    assert row["target"] == 0.8 and row["n_frames"] == 3
    assert row["C_mean"] == pytest.approx(np.nanmean(lab["C"]["t=10"].mean(axis=1)))
    assert -1 <= row["ceiling_r_half"] <= 1 and np.isfinite(row["chord"])


def test_model_report_rows_score_the_numbers(tmp_path):
    from glassfix.reproduce.tglassmlp_model import comparison_rows, model_section

    def ev(rho):
        return [{"target": c, "n_test": 2, "rho_per_config": r, "rho_sem": 0.01, "rho_pooled": r, "chi4_md": 1.0,
                 "chi4_ml": 0.8, "std_md": 0.1, "std_ml": 0.08, "chord_md": 3.0, "chord_ml": 2.5}
                for c, r in zip((0.9, 0.8), rho)]

    model = {"train": {"train_T": [0.55, 0.6], "held_out_T": [0.5], "metrics": {"transfer": {"n_members": 2}}},
             "eval": {"0.6": {"direct": ev((0.3, 0.4))}, "0.55": {"direct": ev((0.35, 0.5))},
                      "0.5": {"transfer": ev((0.5, 0.55)), "direct": ev((0.52, 0.57)), "baseline": ev((0.2, 0.3))}},
             "below": {T: {"n_frames": 3, "xi_int": x, "rows": [{"C": 0.8, "chi4": c, "chord": 2.0},
                                                                  {"C": 0.5, "chi4": 2 * c, "chord": 3.0}]}
                       for T, x, c in (("0.6", 2.0, 1.0), ("0.5", 2.5, 1.5), ("0.45", 2.4, 2.0))}}
    rows = comparison_rows(model, {}, "")
    assert "max rises on cooling: yes" in rows[0]  # 0.4 → 0.5 → 0.57
    assert rows[1].rstrip().endswith("| yes |")  # |0.55 − 0.57| ≤ 0.05, both > 0.3 + 0.05
    assert "peak grows on cooling: yes" in rows[2]
    assert "ξ_int grows on cooling: no" in rows[3]  # 2.5 → 2.4
    # row 7: below the lowest labelled T (0.5) only T = 0.45; χ4 peak 3 → 4, chord 3 → 3, ξ_int 2.5 → 2.4
    assert "ratios T = 0.45 / T = 0.5: χ4 peak 1.33, ⟨ξ_chord⟩ 1.00, ξ_int 0.96" in rows[4]
    assert rows[4].rstrip().endswith("| changes within a factor 2, ⟨ξ_chord⟩ ≲ 14: yes; ξ4: not measured |")
    # one test configuration per T: a rise of 0.02 is within the unresolved margin
    for T, r in (("0.6", (0.3, 0.30)), ("0.55", (0.3, 0.32))):
        model["eval"][T]["direct"] = [dict(x, n_test=1) for x in ev(r)]
    assert "max rises on cooling: not resolved" in comparison_rows(model, {}, "")[0]
    text = "\n".join(model_section(model, tmp_path / "r.md"))
    assert "| 0.45 | 3 | 4 (0.5) | 2 / 3 | 2.4 |" in text


def test_report_lists_every_ladder(tmp_path):
    from glassfix.reproduce.tglassmlp_report import write_report

    stores = []
    for name, temps in (("main", (0.6, 0.5)), ("deep", (0.6, 0.35))):
        path = tmp_path / f"{name}.h5"
        with DatasetStore(path, "w") as ds:
            ds.add_frame(_frame(1), key=f"swap/jbb/T{temps[0]:g}/00000", group="g", system="jbb",
                         temperature=temps[0])
        (tmp_path / f"{name}.swap").mkdir()
        rows = {f"{T:g}": {"status": "equilibrated", "samples": 4, "tau_swap": 100.0 * k + (name == "deep"),
                           "crystalline_fraction": 0.01, "sweeps_per_chain": 1000} for k, T in enumerate(temps, 1)}
        (tmp_path / f"{name}.swap" / "summary.json").write_text(json.dumps({"rows": rows}))
        stores.append(path)
    out = write_report(SCALES["small"], tmp_path / "work", tmp_path / "r.md", stores, command="c", say=lambda s: None)
    text = out.read_text()
    assert "Swap ladders: 1: `" in text and "(swap ladders: `glassfix swap jbb ... --out" in text
    # T = 0.6 from ladder 1 (τ_swap 100, not the deep ladder's 101), T = 0.35 only in ladder 2
    assert "| 0.6 | 1 | equilibrated | 4 | 100 | 1000 | 0.01 |" in text
    assert "| 0.5 | 1 | equilibrated | 4 | 200 | 1000 | 0.01 |" in text
    assert "| 0.35 | 2 | equilibrated | 4 | 201 | 1000 | 0.01 |" in text


def test_tile_frame_keeps_the_local_structure():
    from scipy.spatial import cKDTree

    from glassfix.reproduce.tglassmlp_bigbox import tile_frame

    f = _frame(3, n=30, box=5.0)
    big = tile_frame(f, 3)
    assert big.n_atoms == 270 and np.allclose(np.diag(big.cell), 15.0)
    assert np.array_equal(big.types, np.tile(f.types, 9))
    # nearest-neighbour distances under periodic boundaries are those of the small box
    d0, _ = cKDTree(np.mod(f.positions, 5.0), boxsize=5.0).query(np.mod(f.positions, 5.0), k=2)
    d1, _ = cKDTree(big.positions, boxsize=15.0).query(big.positions, k=2)
    assert np.allclose(np.tile(d0[:, 1], 9), d1[:, 1])
    from glassfix.reproduce.tglassmlp_bigbox import tile_overlap

    assert tile_overlap(big, 3) == 1.0
    moved = tile_frame(f, 3)
    moved.positions[30:60] += 1.0  # one tile displaced by √2 σ: 8 of the 36 image pairs lose their overlap
    assert tile_overlap(moved, 3) == pytest.approx(28 / 36)


def test_bigbox_section_and_row7_report_the_fitted_lengths(tmp_path):
    from glassfix.reproduce.tglassmlp_bigbox import bigbox_section
    from glassfix.reproduce.tglassmlp_model import _row7

    q = list(np.linspace(0.06, 1.2, 20))
    def row(c, xmd, xml):
        return {"target": c, "t": 37.0, "rho": 0.4, "xi4_md": xmd, "xi4_ml": xml, "chi4oz_md": 2.0,
                "chi4oz_ml": 1.5, "oz_points": 9, "md_q": q, "md_s4": [2 / (1 + (x * xmd) ** 2) for x in q],
                "ml_q": q, "ml_s4": [1.5 / (1 + (x * xml) ** 2) for x in q]}
    big = {"tile": 3, "temperatures": {
        "0.6": {"n_frames": 3, "n_atoms": 11610, "L": 98.7, "replicas": 4,
                "plan": {"T": 0.6, "equil_tau": 500.0, "spacing_tau": 170.0, "tmax": 60.0}, "tile_overlap": 0.012,
                "rows": [row(0.9, 1.5, 1.2), row(0.8, 2.5, 2.0)]}}}
    text = "\n".join(bigbox_section(big, tmp_path / "r.md"))
    assert "| 0.6 | 3 | 4 | 500, then 170 | 0.8 | 37 | 0.400 | 2.5 (9) | 2 (9) | 2 | 1.5 |" in text
    assert (tmp_path / "r_s4.png").exists() and "is 0.012 at T = 0.6" in text
    model = {"train": {"train_T": [0.6]}, "eval": {"0.6": {}},
             "below": {T: {"n_frames": 3, "xi_int": 2.0, "rows": [{"C": 0.5, "chi4": 1.0, "chord": 3.0}]}
                       for T in ("0.6", "0.5")}}
    r7 = _row7(model, big)
    assert "ξ4 on the large box: T = 0.6: ξ4 MD 2.5, ML 2 (⟨C̄_B⟩ = 0.8)" in r7 and "N = 11610" in r7
    big["temperatures"]["0.6"]["rows"][1].update(xi4_md=3.614, xi4_ml=1.952)
    assert "ξ4 MD 3.61, ML 1.95" in _row7(model, big)
    assert "ξ4: not measured" in _row7(model, None)


def test_stages_after_training_name_the_missing_step(tmp_path):
    from glassfix.reproduce.tglassmlp_bigbox import stage_bigbox
    from glassfix.reproduce.tglassmlp_model import stage_otf, stage_predict

    for stage, fn in (("predict", stage_predict), ("bigbox", stage_bigbox), ("otf", stage_otf)):
        with pytest.raises(RuntimeError, match=f"stage {stage} needs the trained models.*run stage train first"):
            fn(SCALES["small"], tmp_path, lambda s: None)
