"""``device auto|cpu|cuda`` for torch models (fix glass/predict, glassfix predict, the OpenMM reporter):
auto falls back to the CPU without a GPU, cuda without a GPU is one clear error naming the keyword."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from glassfix.core.frame import Frame  # noqa: E402
from glassfix.data.lammps_io import write_data  # noqa: E402
from glassfix.descriptors.graph import ParticleGraph  # noqa: E402
from glassfix.models.botan import BotanModel, build_network  # noqa: E402
from glassfix.models.device import place_model, resolve_device  # noqa: E402
from helpers.lmp_util import error_lines, predict_run_script, run_lmp  # noqa: E402

HAS_GPU = torch.cuda.is_available() and torch.cuda.device_count() > 0
no_gpu_only = pytest.mark.skipif(HAS_GPU, reason="checks the behaviour without a GPU")


def small_botan() -> BotanModel:
    torch.manual_seed(3)
    return BotanModel.from_network(build_network(hidden=8, n_steps=2), ParticleGraph(2, 1.5, ["A", "B"]),
                                   ["A", "B"])


def small_frame(n: int = 150) -> Frame:
    rng = np.random.default_rng(1)
    L = (n / 1.2) ** (1 / 3)
    return Frame(positions=rng.uniform(0, L, (n, 3)), types=(rng.uniform(size=n) < 0.2).astype(np.int64),
                 cell=np.eye(3) * L, species=("A", "B"))


def test_auto_resolves_to_the_gpu_if_visible_else_cpu():
    assert resolve_device("cpu", "x") == "cpu"
    assert resolve_device("auto", "x") == ("cuda:0" if HAS_GPU else "cpu")
    with pytest.raises(ValueError, match="fix glass/predict: device must be auto, cpu or cuda, got 'gpu'"):
        resolve_device("gpu", "fix glass/predict")


@no_gpu_only
def test_cuda_without_gpu_is_a_clear_error_and_models_stay_usable():
    m = small_botan()
    with pytest.raises(ValueError, match="fix glass/predict: device cuda requested but no CUDA GPU is visible"):
        place_model(m, "cuda", "fix glass/predict")
    f = small_frame()
    ref = m.predict(f)
    assert place_model(m, "auto", "fix glass/predict") == "cpu" and m.device == "cpu"
    np.testing.assert_array_equal(m.predict(f), ref)


def test_models_without_torch_refuse_cuda(tmp_path):
    from glassfix.descriptors.structure_functions import RadialStructureFunctions
    from glassfix.models.softness import SoftnessHead, SoftnessModel

    desc = RadialStructureFunctions(n_species=2, species_names=["A", "B"])
    heads = {t: SoftnessHead(mean=np.zeros(desc.n_features), scale=np.ones(desc.n_features),
                             w=np.ones(desc.n_features), b=0.0) for t in (0, 1)}
    soft = SoftnessModel(desc, ["A", "B"], heads)
    assert place_model(soft, "auto", "ctx") == "cpu" and place_model(soft, "cpu", "ctx") == "cpu"
    with pytest.raises(ValueError, match="ctx: device cuda applies to torch models"):
        place_model(soft, "cuda", "ctx")


@no_gpu_only
def test_cli_and_reporter_device_argument(tmp_path):
    from glassfix.cli import main
    from glassfix.engines.openmm.reporter import PredictorReporter

    m = small_botan()
    f = small_frame()
    path = m.save(tmp_path / "b.glassfix")
    write_data(f, tmp_path / "f.data", masses=[1.0, 1.0])
    base = ["predict", "--model", str(path), "--frame", str(tmp_path / "f.data"), "--out", str(tmp_path / "p.npy")]
    # in process (a subprocess would spend its time importing torch): the CLI exits with one line
    with pytest.raises(SystemExit, match="^error: glassfix predict --device: device cuda requested but no CUDA GPU"):
        main(base + ["--device", "cuda"])
    assert main(base + ["--device", "auto"]) == 0
    np.testing.assert_allclose(np.load(tmp_path / "p.npy"), m.predict(f)[:, 0], rtol=0, atol=1e-6)
    with pytest.raises(ValueError, match="PredictorReporter: device cuda requested"):
        PredictorReporter(m, 10, f.types, device="cuda")
    assert PredictorReporter(m, 10, f.types, device="auto").device == "cpu"


@pytest.mark.slow
@no_gpu_only
def test_fix_device_keyword_under_mpi(tmp_path, plugin_so):
    """In LAMMPS (2 ranks): device auto evaluates on the CPU (values = offline); device cuda stops every rank
    with one error line naming the keyword and the fix."""
    m = small_botan()
    f = small_frame()
    path = m.save(tmp_path / "b.glassfix")
    write_data(f, tmp_path / "f.data", masses=[1.0, 1.0])
    from glassfix.data.lammps_io import read_dump_frames

    proc = run_lmp(predict_run_script(plugin_so, tmp_path / "f.data", path, "mode gather device auto"),
                   tmp_path, nprocs=2, timeout=300)
    assert proc.returncode == 0 and not error_lines(proc.stdout), proc.stdout[-3000:]
    got = read_dump_frames(tmp_path / "out.dump")[0].metadata["columns"]["f_p"]
    np.testing.assert_allclose(got, m.predict(f)[:, 0], rtol=0, atol=1e-6)
    bad = tmp_path / "bad"
    bad.mkdir()
    proc = run_lmp(predict_run_script(plugin_so, tmp_path / "f.data", path, "mode gather device cuda"),
                   bad, nprocs=2, timeout=300)
    errs = error_lines(proc.stdout)
    assert proc.returncode != 0 and errs, proc.stdout[-3000:]
    assert "glass/predict: device cuda requested but no CUDA GPU is visible" in errs[0], errs
    assert "use device auto" in errs[0] and errs[0].count("glass/predict") == 1
