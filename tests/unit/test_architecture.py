"""The package's shape (docs/architecture.md): one-way layers, no import cycle, modules of one concern.

The import graph is read from the source (every ``import`` statement, lazy ones inside functions
included), so a late import cannot hide an upward edge or a cycle.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

from helpers import REPO

PKG = REPO / "glassfix"

# Layers, lowest first (docs/architecture.md): a library module may import its own layer and those below.
LAYERS: list[tuple[str, ...]] = [
    ("glassfix", "glassfix.core"),
    ("glassfix.systems", "glassfix.analysis"),
    ("glassfix.descriptors", "glassfix.labels"),
    ("glassfix.data",),
    ("glassfix.models",),
    ("glassfix.engines.lammps", "glassfix.engines.openmm"),
    ("glassfix.protocols", "glassfix.mc", "glassfix.ensembles"),
    ("glassfix.train",),
    ("glassfix.bench", "glassfix.bench_engines", "glassfix.demo", "glassfix.reproduce", "glassfix.monitor"),
    ("glassfix.cli",),
]
# Benchmarks are applications wherever they live: they may import anything (but not the command line).
APP_MODULE_NAMES = {"bench", "__main__"}

# Modules still over the size limit, with the line count they may not exceed (they only shrink).
MAX_LINES = 600
KNOWN_LARGE: dict[str, int] = {}


def _modules() -> dict[str, Path]:
    out = {}
    for p in PKG.rglob("*.py"):
        parts = list(p.relative_to(PKG.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = p
    return out


def _imports(name: str, path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    base = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                mod = ".".join(base[: len(base) - node.level + 1] + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if mod.startswith("glassfix"):
                out.add(mod)
                out.update(f"{mod}.{a.name}" for a in node.names)  # "from pkg import submodule"
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("glassfix"))
    return out


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    return {m: {t for t in _imports(m, p) if t in mods and t != m} for m, p in mods.items()}


def _layer(module: str) -> int:
    best, level = -1, None
    for i, layer in enumerate(LAYERS):
        for pkg in layer:
            # the root package holds only __init__ (the version): it is no prefix for the rest
            inside = module == pkg or (pkg != "glassfix" and module.startswith(pkg + "."))
            if inside and len(pkg) > best:
                best, level = len(pkg), i
    assert level is not None, f"{module} belongs to no layer: add its package to LAYERS and docs/architecture.md"
    return level


def test_no_import_cycle():
    graph = _graph()
    sys.setrecursionlimit(max(10000, sys.getrecursionlimit()))
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    assert not cycles, f"import cycles: {cycles}"


def test_no_upward_import():
    bad = []
    for mod, targets in _graph().items():
        if mod.rsplit(".", 1)[-1] in APP_MODULE_NAMES:
            continue
        for t in targets:
            if _layer(t) > _layer(mod):
                bad.append(f"{mod} -> {t}")
    assert not bad, "upward imports (see docs/architecture.md for the layers):\n" + "\n".join(sorted(bad))


def test_modules_hold_one_concern():
    over = {}
    for mod, path in _modules().items():
        n = len(path.read_text(encoding="utf-8").splitlines())
        limit = KNOWN_LARGE.get(mod, MAX_LINES)
        if n > limit:
            over[mod] = (n, limit)
    assert not over, f"modules over their line limit (split along a seam): {over}"


def test_layering_rules_can_fail():
    # the checker itself: a made-up upward edge is caught, a made-up package is refused
    assert _layer("glassfix.core.frame") < _layer("glassfix.models.base")
    assert _layer("glassfix.engines.lammps.bridge") > _layer("glassfix.models")
    try:
        _layer("glassfix_other.x")
    except AssertionError:
        pass
    else:
        raise AssertionError("an unknown package must be refused")


def test_cli_is_the_top_layer():
    # one module per command in glassfix/cli/, and nothing outside it imports the command line
    from glassfix.cli import COMMANDS, build_parser

    mods = _modules()
    inside = {m for m in mods if m == "glassfix.cli" or m.startswith("glassfix.cli.")}
    assert inside == {"glassfix.cli", "glassfix.cli.__main__"} | {f"glassfix.cli.{c}" for c in COMMANDS}
    assert not [m for m in mods if m.endswith(".cli") and m != "glassfix.cli"], "a cli.py outside glassfix/cli/"
    bad = [f"{m} -> {t}" for m, targets in _graph().items() if m not in inside for t in targets if t in inside]
    assert not bad, "library code imports the command line:\n" + "\n".join(sorted(bad))
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    assert list(sub.choices) == list(COMMANDS)
