"""Ship the LAMMPS plugin sources and ready inputs inside the wheel.

The plugin is compiled on the user's machine against the installed LAMMPS (`glassfix plugin build`), so a
non-editable install needs CMakeLists.txt, kernels/ and lammps_inputs/ inside the package: they are copied
to glassfix/_plugin_src/ and glassfix/_lammps_inputs/ at build time. Everything else is in pyproject.toml.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


class BuildPyWithPluginSources(build_py):
    def run(self):
        super().run()
        pkg = Path(self.build_lib) / "glassfix"
        src = pkg / "_plugin_src"
        if src.exists():
            shutil.rmtree(src)
        (src / "kernels").mkdir(parents=True)
        shutil.copy2(ROOT / "CMakeLists.txt", src / "CMakeLists.txt")
        for f in sorted((ROOT / "kernels").iterdir()):
            if f.suffix in (".cpp", ".h"):
                shutil.copy2(f, src / "kernels" / f.name)
        inputs = pkg / "_lammps_inputs"
        if inputs.exists():
            shutil.rmtree(inputs)
        shutil.copytree(ROOT / "lammps_inputs", inputs)


setup(cmdclass={"build_py": BuildPyWithPluginSources})
