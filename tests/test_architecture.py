"""The import graph of bot/ and commands/ has no cycles, between modules or between folders.

Why: two modules (or layers) in a cycle can only be read, tested and changed together, and moving an import
into a function only hides the cycle from the interpreter, not from the design. So imports inside functions
count; imports under `if TYPE_CHECKING:` don't (they never run). A package's `__init__` importing its own
submodules is how it re-exports them, not a cycle of design, so those edges are dropped.
"""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bot", "commands")
# Top-level packages whose direct modules are layers of their own (bot/runtime.py, bot/cli.py): in the folder
# graph each stays a node instead of all merging into `bot`. commands/ is one layer: commands/x.py is `commands`.
SPLIT_TOP_LEVEL = frozenset({"bot"})
# bot.runtime is the composition root: importing it reaches the whole app. Only the entry points that build
# and start it (`sevbot serve` in bot.cli, `sevbot sandbox` in bot.sandbox) may import it.
RUNTIME_STARTERS = frozenset({"bot.cli", "bot.sandbox"})

Graph = dict[str, set[str]]


def module_name(root: Path, path: Path) -> str:
    """`bot/paging/ladder.py` is `bot.paging.ladder`; a package's `__init__.py` is the package."""
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules(root: Path, packages: tuple[str, ...]) -> dict[str, Path]:
    """Every module of `packages` under `root`, by name."""
    return {module_name(root, p): p for pkg in packages for p in sorted((root / pkg).rglob("*.py"))}


def _type_checking_only(tree: ast.AST) -> set[int]:
    """ids of the nodes under `if TYPE_CHECKING:` / `if typing.TYPE_CHECKING:` (the body: an `else:` runs)."""
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If):
            test = node.test
            name = test.id if isinstance(test, ast.Name) else test.attr if isinstance(test, ast.Attribute) else ""
            if name == "TYPE_CHECKING":
                skip.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    return skip


def imported(root: Path, path: Path, known: set[str]) -> set[str]:
    """The project modules `path` imports anywhere, function bodies included, relative imports resolved.

    Each target is its longest known prefix, so `from pkg import name` gives `pkg.name` when that is a
    submodule, and `pkg` too (its `__init__` runs first)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    skip = _type_checking_only(tree)
    me = module_name(root, path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    targets: list[str] = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            targets += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # `.` is this package, each further dot one package up
                up = package.split(".")
                up = up[: len(up) - node.level + 1]
                base = ".".join([*up, base] if base else up)
            targets += [base, *(f"{base}.{alias.name}" for alias in node.names)]
    found: set[str] = set()
    for target in targets:
        while target and target not in known:
            target = target.rpartition(".")[0]
        if target and target != me:
            found.add(target)
    return found


def module_graph(root: Path, modules: dict[str, Path]) -> Graph:
    """module -> the modules it imports, without a package's edges to its own submodules."""
    known = set(modules)
    return {m: {d for d in imported(root, p, known) if not d.startswith(m + ".")} for m, p in modules.items()}


def folder_of(root: Path, path: Path) -> str:
    """`bot/roles/assign.py` is `bot.roles`, `commands/x.py` is `commands`, but `bot/cli.py` stays `bot.cli`."""
    parts = path.relative_to(root).parts
    if len(parts) == 2 and parts[0] in SPLIT_TOP_LEVEL and parts[1] != "__init__.py":
        return module_name(root, path)
    return ".".join(parts[:-1])


def folder_graph(root: Path, modules: dict[str, Path], graph: Graph) -> Graph:
    """The module graph with each module merged into its folder; self-edges dropped."""
    where = {m: folder_of(root, p) for m, p in modules.items()}
    merged: Graph = {folder: set() for folder in where.values()}
    for m, deps in graph.items():
        merged[where[m]].update(where[d] for d in deps if where[d] != where[m])
    return merged


def components(graph: Graph) -> list[set[str]]:
    """Tarjan's strongly connected components with more than one node: each holds at least one cycle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[set[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set(stack[stack.index(v):])
            del stack[stack.index(v):]
            if len(component) > 1:
                found.append(component)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def one_cycle(graph: Graph, component: set[str]) -> list[str]:
    """A shortest cycle through the component's first node, breadth first inside the component."""
    start = min(component)
    parent: dict[str, str] = {}
    queue = [start]
    for v in queue:
        nxt = sorted(graph[v] & component)
        if start in nxt:
            path = [v]
            while path[-1] != start:
                path.append(parent[path[-1]])
            return [*reversed(path), start]
        for w in nxt:
            if w not in parent:
                parent[w] = v
                queue.append(w)
    raise AssertionError(f"not strongly connected: {sorted(component)}")


def cycles(graph: Graph) -> list[str]:
    """One concrete cycle per component, `a -> b -> a`, then the component's other members if any."""
    lines: list[str] = []
    for component in components(graph):
        chain = one_cycle(graph, component)
        rest = sorted(component - set(chain))
        lines.append(" -> ".join(chain) + (f"   (same component: {', '.join(rest)})" if rest else ""))
    return lines


def test_no_import_cycle_between_modules() -> None:
    graph = module_graph(ROOT, project_modules(ROOT, PACKAGES))
    found = cycles(graph)
    assert not found, "import cycles between modules:\n  " + "\n  ".join(found)


def test_no_import_cycle_between_folders() -> None:
    modules = project_modules(ROOT, PACKAGES)
    found = cycles(folder_graph(ROOT, modules, module_graph(ROOT, modules)))
    assert not found, "import cycles between folders:\n  " + "\n  ".join(found)


def test_the_parser_sees_function_imports_and_ignores_type_checking(tmp_path: Path) -> None:
    """Without this the two tests above could pass by parsing nothing."""
    files = {
        "pkg/__init__.py": "from . import a\n",  # re-export: not a cycle
        "pkg/a.py": "from pkg import b\n",
        "pkg/b.py": "def later() -> None:\n    from . import a\n",  # the hidden cycle: a -> b -> a
        "pkg/c.py": "import typing\nfrom typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    from pkg.sub import d\n"
        "if typing.TYPE_CHECKING:\n    import pkg.sub.d\n",
        "pkg/sub/__init__.py": "",
        "pkg/sub/d.py": "from .. import c\n",  # with c -> d above, a cycle only for a type checker
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    modules = project_modules(tmp_path, ("pkg",))
    graph = module_graph(tmp_path, modules)
    assert graph["pkg.sub.d"] == {"pkg", "pkg.c"}
    assert graph["pkg.c"] == set()
    assert cycles(graph) == ["pkg.a -> pkg.b -> pkg.a"]
    assert cycles(folder_graph(tmp_path, modules, graph)) == []


def test_nothing_imports_the_composition_root() -> None:
    graph = module_graph(ROOT, project_modules(ROOT, PACKAGES))
    assert "bot.runtime" in graph, "the composition root moved: update this test"
    importers = sorted(m for m, deps in graph.items() if "bot.runtime" in deps and m not in RUNTIME_STARTERS)
    assert not importers, f"only {sorted(RUNTIME_STARTERS)} may import bot.runtime; also imported by: {importers}"


def test_button_values_are_decoded_by_the_one_codec() -> None:
    """Listeners read button values through bot/core/actions.py, never by splitting strings by hand, and the
    incident id is formatted by one function (`human_id`)."""
    import re

    by_hand = re.compile(r"""\.(split|partition|rpartition)\(\s*["']:["']""")
    offenders = [f"{p.relative_to(ROOT)}:{n}" for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))
                 if "slack_sim" not in p.parts
                 for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if by_hand.search(line)]
    assert offenders == [], f"values split by hand (use bot.core.actions): {offenders}"
    formatted = [f"{p.relative_to(ROOT)}:{n}" for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))
                 if "slack_sim" not in p.parts and p != ROOT / "bot" / "domain" / "incident.py"
                 for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if "INC-{" in line]
    assert formatted == [], f"INC-n formatted by hand (use bot.domain.incident.human_id): {formatted}"
