"""Fast tier: the baked package keeps its two sides apart, for every option combination.

The user's side is the package top (params, data, predict, metrics, the kind's own files, cli);
the machinery is ``harness/``. The import graph is read from the baked sources with ``ast``
(absolute and relative imports, also those inside functions) and must have no circle; only
``harness/kind.py`` reaches the user's side; the read side (validation, report, cache_report,
compare) never reaches the runner, not even through other modules.
"""

import ast
from pathlib import Path

import pytest

from helpers import full_context, option_matrix

MATRIX = list(option_matrix())
# The only harness module that imports the user's files: the contract between the two sides.
CONTRACT = "harness.kind"
RUNNER = "harness.runner"
READ_SIDE = ("harness.validation", "harness.report", "harness.cache_report", "harness.compare")
NO_EDIT_NOTE = "you do not need to edit this"


def module_name(path: Path, package: Path) -> str:
    """``harness/runner.py`` -> ``harness.runner``; a package's ``__init__.py`` -> its name
    (the package top itself is ``""``). Names are relative to the baked package."""
    parts = path.relative_to(package).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imported_names(tree: ast.Module, here: list[str]) -> list[tuple[str, list[str]]]:
    """(module, names) for every import anywhere in ``tree``, relative imports made absolute.

    ``here`` is the dotted package that holds the module (its own name if it is a package):
    the base of ``from . import x`` and ``from .x import y``.
    """
    found = []
    for node in ast.walk(tree):  # walks function bodies too: imports inside functions count
        if isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module
            found.append((module, [alias.name for alias in node.names]))
    return found


def import_graph(package: Path) -> dict[str, set[str]]:
    """Module -> the modules of the same package it imports (names relative to the package).

    ``from pkg import x`` is an edge to the module ``pkg.x`` when that is a module, else to
    ``pkg`` (a name defined there).
    """
    top = package.name
    files = {module_name(path, package): path for path in sorted(package.rglob("*.py"))}
    absolute = {".".join(filter(None, (top, name))): name for name in files}
    graph = {}
    for name, path in files.items():
        dotted = ".".join(filter(None, (top, name)))
        here = dotted.split(".") if path.name == "__init__.py" else dotted.split(".")[:-1]
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        targets = set()
        for module, names in imported_names(tree, here):
            if module not in absolute:
                # the standard library, a dependency, or an optional add-on this bake lacks
                # (tracking tries duckdb_setup, the runner cluster: the engine pattern)
                continue
            submodules = [f"{module}.{n}" for n in names if f"{module}.{n}" in absolute]
            targets.update(absolute[m] for m in submodules)
            if len(submodules) < len(names) or not names:
                targets.add(absolute[module])
        graph[name] = targets - {name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One closed path (first module repeated at the end) per import circle found."""
    found, state = [], {}  # state: "open" while on the DFS stack, "done" afterwards

    def visit(node: str, stack: list[str]) -> None:
        state[node] = "open"
        stack.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                found.append(stack[stack.index(target) :] + [target])
            elif target not in state:
                visit(target, stack)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [])
    return found


def import_path(graph: dict[str, set[str]], start: str, goal: str) -> list[str] | None:
    """The shortest chain of imports from ``start`` to ``goal``, or None."""
    paths, queue = {start: [start]}, [start]
    for node in queue:
        if node == goal:
            return paths[node]
        for target in sorted(graph[node] - set(paths)):
            paths[target] = [*paths[node], target]
            queue.append(target)
    return None


def shown(modules) -> str:
    return " -> ".join(name or "(package __init__)" for name in modules)


def package_of(project: Path, answers: dict) -> Path:
    return project / "src" / full_context(**answers)["module_name"]


def harness(name: str) -> bool:
    return name == "harness" or name.startswith("harness.")


@pytest.mark.parametrize("answers", MATRIX)
def test_no_import_circle(baked, answers):
    graph = import_graph(package_of(baked(answers), answers))
    assert RUNNER in graph and CONTRACT in graph, sorted(graph)
    circles = cycles(graph)
    assert not circles, "import circles:\n" + "\n".join(f"  {shown(c)}" for c in circles)


@pytest.mark.parametrize("answers", MATRIX)
def test_only_the_kind_contract_imports_the_users_files(baked, answers):
    """Machinery takes the user's names from harness/kind.py, never from params/predict/..."""
    graph = import_graph(package_of(baked(answers), answers))
    assert any(not harness(target) for target in graph[CONTRACT]), "kind.py imports no user file"
    crossing = [
        f"  {name} imports {', '.join(sorted(t or '(package __init__)' for t in user))}"
        for name, targets in sorted(graph.items())
        if harness(name) and name != CONTRACT
        for user in [{t for t in targets if not harness(t)}]
        if user
    ]
    assert not crossing, (
        "harness modules importing the user's side (only harness/kind.py may; take the names "
        "from .kind):\n" + "\n".join(crossing)
    )


@pytest.mark.parametrize("answers", MATRIX)
def test_read_side_never_reaches_the_runner(baked, answers):
    """validate, report, cache report and compare read the results: they must not import the
    runner, directly or through any other module."""
    graph = import_graph(package_of(baked(answers), answers))
    read_side = [
        name for name in graph if any(name == r or name.startswith(r + ".") for r in READ_SIDE)
    ]
    for expected in READ_SIDE:
        assert any(n == expected or n.startswith(expected + ".") for n in read_side), expected
    reaching = [path for name in sorted(read_side) if (path := import_path(graph, name, RUNNER))]
    assert not reaching, "the read side imports the runner:\n" + "\n".join(
        f"  {shown(path)}" for path in reaching
    )


@pytest.mark.parametrize("answers", MATRIX)
def test_harness_says_you_do_not_need_to_edit_it(baked, answers):
    init = package_of(baked(answers), answers) / "harness" / "__init__.py"
    docstring = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
    assert NO_EDIT_NOTE in docstring.lower(), f"harness/__init__.py docstring: {docstring!r}"


# --- the checks themselves catch what they are for --------------------------------------------


def write_package(root: Path, files: dict[str, str]) -> Path:
    package = root / "pkg"
    for name, text in files.items():
        (package / name).parent.mkdir(parents=True, exist_ok=True)
        (package / name).write_text(text)
    return package


def test_import_graph_resolves_relative_absolute_and_function_imports(tmp_path):
    package = write_package(
        tmp_path,
        {
            "__init__.py": "",
            "params.py": "from .harness.identity import check\n",
            "cli.py": "def main():\n    from .harness import runner\n",
            "harness/__init__.py": "",
            "harness/identity.py": "import hashlib\n",
            "harness/kind.py": "from .. import params\nfrom ..params import grid\n",
            "harness/runner.py": "import pkg.harness.kind\n",
            "harness/report.py": "from . import kind, runner\nfrom .kind import PRIMARY\n",
        },
    )
    assert import_graph(package) == {
        "": set(),
        "params": {"harness.identity"},
        "cli": {"harness.runner"},
        "harness": set(),
        "harness.identity": set(),
        "harness.kind": {"params"},
        "harness.runner": {"harness.kind"},
        "harness.report": {"harness.kind", "harness.runner"},
    }
    graph = import_graph(package)
    assert import_path(graph, "harness.report", RUNNER) == ["harness.report", RUNNER]
    assert cycles(graph) == []


def test_cycles_name_the_circle(tmp_path):
    package = write_package(
        tmp_path,
        {
            "__init__.py": "",
            "harness/__init__.py": "",
            "harness/tracking.py": "def f():\n    from .cluster import go\n",
            "harness/cluster.py": "from .tracking import f\n",
        },
    )
    found = cycles(import_graph(package))
    assert found == [["harness.cluster", "harness.tracking", "harness.cluster"]], found
    assert shown(found[0]) == "harness.cluster -> harness.tracking -> harness.cluster"
