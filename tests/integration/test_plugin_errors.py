"""Bad input to the plugin fixes: one clear LAMMPS ERROR line, non-zero exit on every rank, no hang."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from glassfix.data.lammps_io import write_data
from helpers.lmp_util import KA_PAIR, error_lines, run_lmp, shared_ka_frame

pytestmark = pytest.mark.slow

CALLBACKS = '''
import numpy as np

def ok(view):
    return np.zeros(view.centers.size)

def boom_on_one_rank(view):
    # only the rank that owns atom id 1 fails: the others must not hang
    if (view.ids[view.centers] == 1).any():
        raise RuntimeError("callback failed on purpose")
    return np.zeros(view.centers.size)

def wrong_shape(view):
    return np.zeros(view.centers.size + 1)

def nan_for_atom_9(view):
    out = np.zeros(view.centers.size)
    out[view.ids[view.centers] == 9] = np.nan
    return out
'''

# a module that cannot be imported on MPI rank 1 only (e.g. missing on one node); mpich's mpirun sets
# PMI_RANK in every process
RANK_IMPORT = '''
import os
if os.environ.get("PMI_RANK") == "1":
    raise ImportError("rankimport is broken on rank 1 only")

def f(view):
    return view.positions[view.centers, 0] * 0.0
'''


@pytest.fixture(scope="module")
def small_data(tmp_path_factory):
    d = tmp_path_factory.mktemp("errors")
    f = shared_ka_frame(2)
    write_data(f, d / "ka.data", masses=[1.0, 1.0])
    return d / "ka.data"


def rewrite_manifest(src, dst, **changes):
    with zipfile.ZipFile(src) as zin:
        manifest = json.loads(zin.read("manifest.json"))
        arrays = zin.read("arrays.npz")
    manifest.update(changes)
    with zipfile.ZipFile(dst, "w") as zout:
        zout.writestr("manifest.json", json.dumps(manifest))
        zout.writestr("arrays.npz", arrays)
    return dst


def script(plugin, data, fix_line, ghost="comm_modify cutoff 6.0", ntypes_line="", pre="", post=""):
    return f"""plugin load {plugin}
units lj
atom_style atomic
read_data {data} {ntypes_line}
{KA_PAIR}
{ghost}
{pre}
{fix_line}
{post}
run 10
"""


CASES = {
    "unknown_kind": ("glass/predict 5 model {bad_kind}", {}, "unknown model kind"),
    "corrupt_zip": ("glass/predict 5 model {corrupt}", {}, "is not a glassfix model (not a valid zip archive"),
    "too_new": ("glass/predict 5 model {too_new}", {}, "newer glassfix"),
    "missing_model": ("glass/predict 5 model does_not_exist.glassfix", {}, "does not exist"),
    "species_mismatch": ("glass/predict 5 model {model}", {"ntypes_line": "extra/atom/types 1"},
                         "has 2 species (A B) but LAMMPS has 3 atom types"),
    "ghost_too_small": ("glass/predict 5 model {model}", {"ghost": ""}, "comm_modify cutoff"),
    # the native ghost auto exchanges positions by brick communication: tiled after the fix cannot serve it
    "tiled_after_ghost_auto": ("glass/predict 5 model {model} ghost auto", {"ghost": "", "post": "comm_style tiled"},
                               "comm_style is tiled; use comm_style brick, or 'ghost static' with 'comm_modify "
                               "cutoff 5.7'"),
    "n_zero": ("glass/predict 0 model {model}", {}, "N must be a positive integer"),
    "n_negative": ("glass/predict -3 model {model}", {}, "N must be a positive integer"),
    "unknown_keyword": ("glass/predict 5 model {model} colour blue", {}, "unknown keyword 'colour'"),
    "bad_mode": ("glass/predict 5 model {model} mode everywhere", {}, "mode must be 'local' or 'gather'"),
    "missing_module": ("glass/python 5 nosuchmodule.f", {}, "cannot import module 'nosuchmodule'"),
    "missing_function": ("glass/python 5 callbacks.nosuchfunction", {}, "has no function 'nosuchfunction'"),
    "callback_raises_one_rank": ("glass/python 5 callbacks.boom_on_one_rank", {},
                                 "RuntimeError: callback failed on purpose"),
    "callback_wrong_shape": ("glass/python 5 callbacks.wrong_shape", {}, "returned shape"),
    "callback_returns_nan": ("glass/python 5 callbacks.nan_for_atom_9", {},
                             "of 2 ranks failed): callbacks.nan_for_atom_9 returned nan for atom id 9"),
    "bad_nan_keyword": ("glass/python 5 callbacks.ok nan ignore", {}, "nan must be 'error' or 'allow'"),
    "import_fails_on_one_rank": ("glass/python 5 rankimport.f", {},
                                 "Fix f glass/python (MPI rank 1; 1 of 2 ranks failed): cannot import module "
                                 "'rankimport' (ImportError: rankimport is broken on rank 1 only)"),
    # LAMMPS itself stops on NaN coordinates when it re-neighbours; between re-neighbourings (a NaN
    # distance never triggers one) only the fix can notice: give atom 7 a NaN force mid-run.
    "nan_position": ("glass/python 1 callbacks.ok",
                     {"pre": "group one id 7\nvariable bad equal (1e308*10)-(1e308*10)\n"
                             "fix nve all nve\nfix sf one setforce v_bad v_bad v_bad"},
                     "atom id 7 has a non-finite position"),
    # the online labels sample positions into a history: they must stop as well, naming fix and atom
    "nan_position_phop": ("glass/phop 1 4",
                          {"pre": "group one id 7\nvariable bad equal (1e308*10)-(1e308*10)\n"
                                  "fix nve all nve\nfix sf one setforce v_bad v_bad v_bad"},
                          "Fix f glass/phop: atom id 7 has a non-finite position"),
    "nan_position_d2min": ("glass/d2min 1 2 1.5",
                           {"pre": "group one id 7\nvariable bad equal (1e308*10)-(1e308*10)\n"
                                   "fix nve all nve\nfix sf one setforce v_bad v_bad v_bad"},
                           "Fix f glass/d2min: atom id 7 has a non-finite position"),
    "nan_position_at_setup": ("glass/python 5 callbacks.ok",
                              {"pre": "variable bad atom (1e308*10)-(1e308*10)\nset atom 7 x v_bad"},
                              "atom id 7 has a non-finite position"),  # ... before the run starts
    "nan_position_at_setup_phop": ("glass/phop 1 4",
                                   {"pre": "variable bad atom (1e308*10)-(1e308*10)\nset atom 7 x v_bad"},
                                   "Fix f glass/phop: atom id 7 has a non-finite position"),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("nprocs", [2])
def test_bad_input_gives_one_clear_error(tmp_path, plugin_so, softness_model_file, small_data, case, nprocs):
    fix_args, kw, expected = CASES[case]
    (tmp_path / "callbacks.py").write_text(CALLBACKS)
    (tmp_path / "rankimport.py").write_text(RANK_IMPORT)
    bad_kind = rewrite_manifest(softness_model_file, tmp_path / "bad_kind.glassfix", kind="telepathy")
    too_new = rewrite_manifest(softness_model_file, tmp_path / "too_new.glassfix", format_version=99)
    corrupt = tmp_path / "corrupt.glassfix"
    corrupt.write_bytes(b"PK\x03\x04 this is not really a zip file" + bytes(range(256)))
    line = "fix f all " + fix_args.format(model=softness_model_file, bad_kind=bad_kind, too_new=too_new,
                                          corrupt=corrupt)
    proc = run_lmp(script(plugin_so, small_data, line, **kw), tmp_path, nprocs=nprocs, timeout=120)
    errs = error_lines(proc.stdout)
    assert proc.returncode != 0, proc.stdout[-2000:]
    assert len(errs) == 1, proc.stdout[-3000:]
    assert expected in errs[0], errs[0]
    if case.startswith("nan_position_at_setup"):  # our collective check runs before LAMMPS' single-rank one
        assert "before the run starts" in errs[0], errs[0]
    assert "Traceback" not in proc.stdout


def test_pickle_payload_in_model_is_rejected_without_executing(tmp_path, plugin_so, softness_model_file,
                                                               small_data):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    arr = np.empty(1, dtype=object)
    arr[0] = Evil()
    import io

    buf = io.BytesIO()
    np.savez(buf, head_0_w=arr)
    with zipfile.ZipFile(softness_model_file) as zin:
        manifest = zin.read("manifest.json")
    evil = tmp_path / "evil.glassfix"
    with zipfile.ZipFile(evil, "w") as z:
        z.writestr("manifest.json", manifest)
        z.writestr("arrays.npz", buf.getvalue())
    proc = run_lmp(script(plugin_so, small_data, f"fix f all glass/predict 5 model {evil}"), tmp_path,
                   nprocs=2, timeout=120)
    errs = error_lines(proc.stdout)
    assert proc.returncode != 0 and len(errs) == 1
    assert "pickle" in errs[0]
    assert not marker.exists()


def test_callback_nan_allowed_on_request(tmp_path, plugin_so, small_data):
    """'nan allow': the callback's NaN is stored as given (the default stops with an error, see above)."""
    (tmp_path / "callbacks.py").write_text(CALLBACKS)
    line = ("fix f all glass/python 5 callbacks.nan_for_atom_9 nan allow\n"
            "dump d all custom 5 out.dump id f_f\ndump_modify d sort id")
    proc = run_lmp(script(plugin_so, small_data, line).replace("run 10", "run 0"), tmp_path, nprocs=2,
                   timeout=120)
    assert proc.returncode == 0 and not error_lines(proc.stdout), proc.stdout[-2000:]
    rows = [ln.split() for ln in (tmp_path / "out.dump").read_text().splitlines()[9:]]
    values = {int(r[0]): float(r[1]) for r in rows}
    assert np.isnan(values[9]) and sum(np.isnan(v) for v in values.values()) == 1


@pytest.mark.parametrize("style", ["predict", "python", "record"])
def test_usage_line_comes_from_the_bridge(tmp_path, plugin_so, small_data, style):
    """Too few arguments: one ERROR line on both ranks carrying the bridge's usage line (the one place
    it is written), so the C++ side cannot drift from the keywords the bridge accepts."""
    from glassfix.engines.lammps import bridge

    proc = run_lmp(script(plugin_so, small_data, f"fix f all glass/{style} 5"), tmp_path, nprocs=2,
                   timeout=120)
    errs = error_lines(proc.stdout)
    assert proc.returncode != 0 and len(errs) == 1, proc.stdout[-2000:]
    assert "too few arguments; usage: " + bridge.usage(style) in errs[0], errs[0]
