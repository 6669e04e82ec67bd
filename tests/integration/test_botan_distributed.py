"""Distributed message passing (BOTAN in fix glass/predict mode local): each rank evaluates its own atoms
over a ghost shell of one edge cutoff, the ghosts' node states refreshed between cycles; equal to the
whole-frame prediction (offline, mode gather) on 1-4 ranks, orthorhombic and triclinic."""

from __future__ import annotations

import threading

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from glassfix.core.frame import Frame  # noqa: E402
from glassfix.data.lammps_io import read_dump_frames, write_data  # noqa: E402
from glassfix.models import load_model  # noqa: E402
from glassfix.models.botan import BotanModel  # noqa: E402
from helpers.lmp_util import KA_PAIR, SHARED, error_lines, run_lmp, sheared  # noqa: E402

WEIGHTS = SHARED / "data" / "botan_reference" / "pretrained_edge_model1_state_dict.npz"


def random_frame(n: int, seed: int = 1) -> Frame:
    """n atoms at density 1.2, uniformly placed, 80:20 A:B (the graph does not care about overlaps)."""
    rng = np.random.default_rng(seed)
    L = (n / 1.2) ** (1 / 3)
    return Frame(positions=rng.uniform(0, L, (n, 3)), types=(np.arange(n) >= 0.8 * n).astype(np.int64),
                 cell=np.eye(3) * L, species=("A", "B"))


@pytest.fixture(scope="module")
def model():
    return BotanModel.from_reference_weights(str(WEIGHTS))


def _rank_graph(f: Frame, lo: float, hi: float, r_edge: float):
    """One slab 'rank' [lo, hi) in x built by brute force: owned atoms first, then every periodic image
    within r_edge of the slab as a ghost; the edges into owned atoms (src, dst), r_dst − r_src."""
    L = f.cell[0, 0]
    owned = np.flatnonzero((f.positions[:, 0] >= lo) & (f.positions[:, 0] < hi))
    shifts = np.array([(a, b, c) for a in (-1, 0, 1) for b in (-1, 0, 1) for c in (-1, 0, 1)]) * L
    ids, pos = list(owned), list(f.positions[owned])
    for s in shifts:
        img = f.positions + s
        near = np.flatnonzero((img[:, 0] >= lo - r_edge) & (img[:, 0] < hi + r_edge))
        for j in near:
            if s.any() or not (lo <= img[j, 0] < hi):
                ids.append(j)
                pos.append(img[j])
    ids, pos = np.array(ids), np.array(pos)
    d = pos[None, :, :] - pos[:len(owned), None, :]    # (owned, all, 3): r_j − r_i
    r = np.linalg.norm(d, axis=2)
    i, j = np.nonzero((r < r_edge) & (r > 0))
    order = np.lexsort((ids[i], ids[j]))    # by (source id, destination id)
    edge_index = np.stack([j[order], i[order]])
    return owned, ids, pos, edge_index, -d[i[order], j[order]]


def _run_ranks(model: BotanModel, f: Frame, nslab: int, exchange: bool) -> np.ndarray:
    """predict_distributed on nslab slab 'ranks' in threads; the halo is emulated through a shared table
    of owned rows (exchange=False: ghost rows keep their local, wrong values)."""
    L = f.cell[0, 0]
    graphs = [_rank_graph(f, k * L / nslab, (k + 1) * L / nslab, model.message_cutoff) for k in range(nslab)]
    table = np.zeros((f.n_atoms, model.halo_width), dtype=np.float32)
    barrier = threading.Barrier(nslab)
    out = np.full(f.n_atoms, np.nan)

    def rank(k: int) -> None:
        owned, ids, _, edge_index, edge_vec = graphs[k]
        no = len(owned)

        def halo(rows: np.ndarray) -> None:
            table[owned] = rows[:no]
            barrier.wait()
            if exchange:
                rows[no:] = table[ids[no:]]
            barrier.wait()

        try:
            node = model.predict_distributed(f.types[ids], edge_index, edge_vec, halo, n_owned=no)
            assert node.shape == (no,)
            out[owned] = node
        except BaseException as exc:    # release the other 'ranks' from the barrier, report in the caller
            errors.append(exc)
            barrier.abort()

    errors: list[BaseException] = []
    threads = [threading.Thread(target=rank, args=(k,)) for k in range(nslab)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    real = [e for e in errors if not isinstance(e, threading.BrokenBarrierError)]
    if errors:
        raise (real or errors)[0]
    return out


def test_exchanging_node_states_alone_reproduces_the_whole_frame(model):
    """Per-rank graphs over one edge cutoff of ghosts + node-state exchange = the whole-frame forward;
    without the exchange the outputs are wrong (the test can fail)."""
    f = random_frame(300, seed=3)
    whole = model.predict(f)[:, 0]
    scale = np.abs(whole).max()
    for nslab in (1, 2):
        got = _run_ranks(model, f, nslab, exchange=True)
        assert np.abs(got - whole).max() <= 1e-5 * scale, nslab
    wrong = _run_ranks(model, f, 2, exchange=False)
    assert np.abs(wrong - whole).max() > 0.1 * scale


def test_ranks_without_atoms_or_edges_still_exact(model):
    """Edge cases of the owned-rows-only update: a rank that owns no atom (only ghosts, no edges), a rank
    whose one owned atom has no edge (isolated; its output is the encoder's alone), ghosts that are the
    source of no edge; both still join every exchange and every owned atom matches the whole frame."""
    rng = np.random.default_rng(11)
    L = 10.0
    pos = np.concatenate([rng.uniform((0, 0, 0), (5, L, L), (150, 3)), [[7.6, 5.0, 5.0]]])
    f = Frame(positions=pos, types=(np.arange(151) % 5 == 0).astype(np.int64), cell=np.eye(3) * L,
              species=("A", "B"))
    whole = model.predict(f)[:, 0]
    got = _run_ranks(model, f, 4, exchange=True)    # slabs of 2.5: [5, 7.5) owns nothing, [7.5, 10) one atom
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, whole, rtol=0, atol=1e-5 * np.abs(whole).max())


def test_halo_is_called_between_cycles_only(model):
    """n_steps − 1 exchanges of (n, hidden) float32 rows; the last cycle's ghost states are never needed."""
    f = random_frame(300, seed=4)
    owned, ids, _, edge_index, edge_vec = _rank_graph(f, 0.0, f.cell[0, 0], model.message_cutoff)
    shapes = []
    model.predict_distributed(f.types[ids], edge_index, edge_vec,
                              lambda rows: shapes.append((rows.shape, rows.dtype, rows.flags.c_contiguous)))
    assert model.halo_exchanges == model.n_steps - 1 == 6 and model.halo_width == 64
    assert shapes == [((len(ids), 64), np.float32, True)] * 6


# ---------------------------------------------------------------------------------------------------
# inside LAMMPS, under mpirun


def _script(plugin, data, model_path, comm: str = "") -> str:
    """Three fixes on the same positions: local on all atoms, gather on all atoms, local on a slab group
    (ranks without group atoms still take part in the exchanges)."""
    return f"""plugin load {plugin}
units lj
atom_style atomic
read_data {data}
{KA_PAIR}
{comm}
region slab block INF 2.0 INF INF INF INF
group slab region slab
fix p all glass/predict 1 model {model_path} mode local
fix g all glass/predict 1 model {model_path} mode gather
fix s slab glass/predict 1 model {model_path}
dump d all custom 1 out.dump id type x y z f_p f_g f_s
dump_modify d format float %20.16g sort id
run 0
"""


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory, model):
    d = tmp_path_factory.mktemp("botan_mpi")
    f = random_frame(1000)
    write_data(f, d / "ortho.data", masses=[1.0, 1.0])
    write_data(sheared(f, 0.3), d / "tri.data", masses=[1.0, 1.0])
    model.save(d / "botan.glassfix")
    return d


@pytest.mark.slow
@pytest.mark.parametrize("geometry", ["ortho", "tri"])
def test_distributed_equals_gather_and_offline_on_1_to_4_ranks(tmp_path, plugin_so, data_dir, geometry):
    path = data_dir / "botan.glassfix"
    offline = None
    for nprocs in (1, 2, 3, 4):
        wd = tmp_path / f"np{nprocs}"
        proc = run_lmp(_script(plugin_so, data_dir / f"{geometry}.data", path), wd, nprocs=nprocs, timeout=300)
        assert proc.returncode == 0 and not error_lines(proc.stdout), proc.stdout[-3000:]
        fr = read_dump_frames(wd / "out.dump")[0]
        cols = fr.metadata["columns"]
        if offline is None:    # the frame LAMMPS wrote at full precision, predicted offline
            fr.types = fr.types.astype(np.int64)
            offline = load_model(path).predict(fr)[:, 0]
            scale = np.abs(offline).max()
            assert fr.n_atoms == 1000 and scale > 0.1
        tol = 1e-5 * scale    # float32 round-off (equal orders of the sums give bitwise equality)
        assert np.abs(cols["f_g"] - offline).max() <= tol, nprocs
        assert np.abs(cols["f_p"] - offline).max() <= tol, nprocs
        in_slab = fr.positions[:, 0] < 2.0
        assert 0 < in_slab.sum() < 300
        assert np.abs(cols["f_s"][in_slab] - offline[in_slab]).max() <= tol, nprocs
        np.testing.assert_array_equal(cols["f_s"][~in_slab], 0.0)


@pytest.mark.slow
def test_ghost_shell_check_names_the_cutoff_of_the_distributed_mode(tmp_path, plugin_so, data_dir):
    """r_edge 2.6 + skin 0.3 > the pair's ghost shell 2.5 + 0.3: one clear line naming 2.9; with that
    comm_modify cutoff the run works."""
    wide = BotanModel.from_reference_weights(str(WEIGHTS), r_edge=2.6)
    path = wide.save(tmp_path / "wide.glassfix")
    script = _script(plugin_so, data_dir / "ortho.data", path).replace("fix g all", "#").replace(
        "fix s slab", "#").replace(" f_g f_s", "")
    proc = run_lmp(script, tmp_path / "small", nprocs=2, timeout=300)
    assert proc.returncode != 0
    errs = error_lines(proc.stdout)
    assert len(errs) == 1, proc.stdout[-2000:]
    assert "edge cutoff 2.6" in errs[0] and "distributed message passing" in errs[0]
    assert "comm_modify cutoff 2.9'" in errs[0], errs[0]
    proc = run_lmp(script.replace("region slab block", "comm_modify cutoff 2.9\nregion slab block"), tmp_path / "ok",
                   nprocs=2, timeout=300)
    assert proc.returncode == 0 and not error_lines(proc.stdout), proc.stdout[-3000:]


def test_a_failing_rank_still_joins_every_exchange(tmp_path, model):
    """The exchanges are collective: when this rank's evaluation fails (here: a view without positions)
    it still makes the remaining halo_exchanges calls, without data, then raises one BridgeError line."""
    from glassfix.engines.lammps.bridge import BridgeError, create
    from glassfix.engines.lammps.contract import CONTRACT_VERSION

    path = model.save(tmp_path / "botan.glassfix")
    info = {"contract_version": CONTRACT_VERSION, "ntypes": 2, "dimension": 3, "nprocs": 2, "rank": 1}
    h = create("predict", ["model", str(path), "mode", "local"], info)
    assert (h.halo_width, h.halo_exchanges, h.receptive_field) == (64, 6, 2.0)
    calls = []
    with pytest.raises(BridgeError, match="prediction failed at step 7: KeyError"):
        h.compute_local({"step": 7, "halo": calls.append, "halo_width": 64})
    assert calls == [None] * 6
    assert create("predict", ["model", str(path), "mode", "gather"], info).halo_width == 0


@pytest.mark.slow
def test_subdomains_thinner_than_the_ghost_shell(tmp_path, plugin_so, data_dir):
    """`processors 4 1 1` on the 9.4σ box: 2.35σ slabs, thinner than the 2.8σ shell, so LAMMPS brings
    ghosts over several hops; the node-state exchange follows the same hops and the values stay exact."""
    path = data_dir / "botan.glassfix"
    script = _script(plugin_so, data_dir / "ortho.data", path).replace(
        "atom_style atomic", "atom_style atomic\nprocessors 4 1 1")
    proc = run_lmp(script, tmp_path, nprocs=4, timeout=300)
    assert proc.returncode == 0 and not error_lines(proc.stdout), proc.stdout[-3000:]
    assert "4 by 1 by 1 MPI processor grid" in proc.stdout
    cols = read_dump_frames(tmp_path / "out.dump")[0].metadata["columns"]
    scale = np.abs(cols["f_g"]).max()
    assert np.abs(cols["f_p"] - cols["f_g"]).max() <= 1e-5 * scale
