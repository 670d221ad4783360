"""The folders are the layers: no module imports from a layer above its own, and the import
graph between modules has no cycle but the one the compiled reassembly operator needs."""
import ast
from pathlib import Path

from conftest import REPO

PACKAGE = REPO / "indexnet_edu"
#: Layer of each top-level name, lowest first (the order indexnet_edu/__init__.py states).
RANK = {
    **dict.fromkeys(("_checks", "_progress", "_signals", "_moved", "cache", "checkpoint", "shipped_files",
                     "figure_sizes"), 0),
    "ops": 1, "upsamplers": 2, "data": 3, "models": 3, "widgets": 3, "released": 4, "bench": 5,
    "experiments": 6, "gpu_programme": 7, "lessons": 8,
}


def _module(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path):
    """(imported module, line) for every import in ``path`` (relative ones resolved), deferred ones too."""
    package = _module(path) if path.name == "__init__.py" else _module(path).rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            names = [target] if node.module else [f"{target}.{alias.name}" for alias in node.names]
            yield from ((name, node.lineno) for name in names)
        elif isinstance(node, ast.Import):
            yield from ((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module":
            if node.args and isinstance(node.args[0], ast.Constant) and str(node.args[0].value).startswith("indexnet_edu"):
                yield node.args[0].value, node.lineno


def _top(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "indexnet_edu" and len(parts) > 1 else None


def test_every_top_level_name_has_a_layer():
    names = {path.stem if path.suffix == ".py" else path.name for path in PACKAGE.iterdir()
             if (path.suffix == ".py" and path.name != "__init__.py") or (path / "__init__.py").is_file()}
    # train.py and sweep.py only say where their modules moved (they import _moved, layer 0)
    assert names - {"train", "sweep"} == set(RANK)


def test_no_module_imports_from_a_layer_above_its_own():
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        own = _top(_module(path))
        if own is None or own in ("train", "sweep"):  # the package's face (__init__) may name any layer
            continue
        for target, line in _imports(path):
            other = _top(target)
            if other in RANK and RANK[other] > RANK[own]:
                upward.append(f"{path.relative_to(REPO)}:{line} ({own}) imports {target} ({other})")
    assert upward == []


def test_the_only_import_cycle_is_the_compiled_reassembly_operator():
    modules = {_module(path): path for path in PACKAGE.rglob("*.py")}
    graph = {name: {target for target, _ in _imports(path) if target in modules and target != name}
             for name, path in modules.items() if not name.endswith("__init__")}
    graph = {name: {t for t in targets if not t.endswith("indexnet_edu")} for name, targets in graph.items()}
    cycles = set()
    for start in graph:
        stack = [(start, [start])]
        while stack:
            node, trail = stack.pop()
            for nxt in graph.get(node, ()):
                if nxt == start:
                    cycles.add(frozenset(trail))
                elif nxt not in trail and len(trail) < 6:
                    stack.append((nxt, trail + [nxt]))
    assert cycles == {frozenset({"indexnet_edu.ops.reassembly", "indexnet_edu.ops.reassembly_op"})}
