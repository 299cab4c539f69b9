"""The package's import graph: every module imports first, no import cycles, every import declared.

Modules are discovered with :mod:`pkgutil` from the package that the tests import (under tox, the
installed wheel), never listed by hand.
"""

from __future__ import annotations

import ast
import importlib.metadata
import itertools
import json
import pkgutil
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

import restricted_sessions

PACKAGE = "restricted_sessions"
ROOT = Path(__file__).resolve().parent.parent


def discover(package_dir: Path, package: str) -> dict[str, Path]:
    """Every module of the package under ``package_dir``, by dotted name, with its source file."""
    modules = {package: package_dir / "__init__.py"}
    for info in pkgutil.walk_packages([str(package_dir)], f"{package}."):
        relative = Path(*info.name.split(".")[1:])
        path = package_dir / relative / "__init__.py" if info.ispkg else package_dir / f"{relative}.py"
        modules[info.name] = path
    return modules


MODULES = discover(Path(restricted_sessions.__file__).parent, PACKAGE)


def is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def runtime_imports(tree: ast.AST, *, top_level_only: bool = False) -> Iterator[ast.Import | ast.ImportFrom]:
    """The import statements that can run: at module level and, unless ``top_level_only``, inside
    functions and classes too. ``if TYPE_CHECKING:`` blocks never run, so they are left out."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
            continue
        if isinstance(node, ast.If) and is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        if top_level_only and isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            continue
        stack.extend(ast.iter_child_nodes(node))


def parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def absolute_targets(node: ast.Import | ast.ImportFrom, module: str, is_package: bool) -> list[str]:
    """The dotted names an import statement asks for: ``from a import b`` gives ``a.b``."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:
        base_parts = module.split(".") if is_package else module.split(".")[:-1]
        base_parts = base_parts[: len(base_parts) - node.level + 1]
        base = ".".join([*base_parts, node.module] if node.module else base_parts)
    else:
        base = node.module or ""
    return [base, *(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")]


def internal_edges(modules: dict[str, Path]) -> dict[str, dict[str, int]]:
    """For each module, the package modules it imports (anywhere it can run) and the line of the first."""
    graph: dict[str, dict[str, int]] = {}
    for module, path in modules.items():
        edges: dict[str, int] = {}
        is_package = path.name == "__init__.py"
        for node in runtime_imports(parse(path)):
            for target in absolute_targets(node, module, is_package):
                # Importing a.b.c runs a, a.b and a.b.c: each one the package has is a dependency.
                parts = target.split(".")
                for end in range(1, len(parts) + 1):
                    name = ".".join(parts[:end])
                    if name in modules and name != module:
                        edges.setdefault(name, node.lineno)
        graph[module] = edges
    return graph


def cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """The import cycles, each as a path that ends where it starts: in every strongly connected
    component of more than one module (Tarjan's algorithm), the shortest cycle through each member."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph[node]):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    found: list[list[str]] = []
    for component in components:
        for start in component:
            cycle = shortest_cycle(graph, start, set(component))
            # The same cycle through each of its members: keep one, starting at its least member.
            least = cycle.index(min(cycle[:-1]))
            rotated = [*cycle[least:-1], *cycle[:least], cycle[least]]
            if rotated not in found:
                found.append(rotated)
    return sorted(found)


def shortest_cycle(graph: dict[str, dict[str, int]], start: str, members: set[str]) -> list[str]:
    """The shortest path from ``start`` back to itself through ``members`` (a strongly connected set)."""
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for successor in sorted(graph[node]):
            if successor == start:
                return [*paths[node], start]
            if successor in members and successor not in paths:
                paths[successor] = [*paths[node], successor]
                queue.append(successor)
    raise AssertionError(f"no cycle through {start} in {sorted(members)}")  # pragma: no cover


def describe(cycle: list[str], graph: dict[str, dict[str, int]], modules: dict[str, Path]) -> str:
    steps = [f"{a} (line {graph[a][b]} of {modules[a].name})" for a, b in itertools.pairwise(cycle)]
    return " -> ".join([*steps, cycle[-1]])


def test_the_package_has_no_import_cycle() -> None:
    graph = internal_edges(MODULES)
    found = [describe(cycle, graph, MODULES) for cycle in cycles(graph)]
    assert found == []


def test_the_cycle_finder_sees_imports_in_functions_and_relative_imports(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    files = {
        "__init__.py": "",
        "a.py": "from pkg.b import thing\n",
        "b.py": "def f():\n    from . import c\n",
        "c.py": "import pkg.a\n",
        "d.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import e\n",
        "e.py": "from pkg import d\n",
    }
    for name, text in files.items():
        (package / name).write_text(text, encoding="utf-8")
    modules = discover(package, "pkg")
    graph = internal_edges(modules)
    assert sorted(modules) == ["pkg", "pkg.a", "pkg.b", "pkg.c", "pkg.d", "pkg.e"]
    assert graph["pkg.a"] == {"pkg": 1, "pkg.b": 1}
    assert cycles(graph) == [["pkg.a", "pkg.b", "pkg.c", "pkg.a"]]
    assert describe(cycles(graph)[0], graph, modules) == (
        "pkg.a (line 1 of a.py) -> pkg.b (line 2 of b.py) -> pkg.c (line 1 of c.py) -> pkg.a"
    )


# ---------------------------------------------------------------------------------------------
# Third-party imports: declared in the metadata, and optional ones only where an extra is needed.


def project_table() -> dict[str, object]:
    with (ROOT / "pyproject.toml").open("rb") as file:
        project: dict[str, object] = tomllib.load(file)["project"]
    return project


def distribution_name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement)
    assert match is not None, requirement
    return canonical(match.group(0))


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def third_party_roots(path: Path, *, top_level_only: bool) -> set[str]:
    roots: set[str] = set()
    for node in runtime_imports(parse(path), top_level_only=top_level_only):
        if isinstance(node, ast.ImportFrom) and node.level:
            continue
        names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else [node.module or ""]
        roots.update(name.split(".")[0] for name in names)
    return {root for root in roots if root != PACKAGE and root not in sys.stdlib_module_names}


def distributions_of(roots: Iterable[str]) -> dict[str, str]:
    """Each import root's distribution, as installed in this environment."""
    installed = importlib.metadata.packages_distributions()
    missing = sorted(root for root in roots if root not in installed)
    assert missing == [], f"not installed in the test environment, so neither testable nor checkable: {missing}"
    return {root: canonical(installed[root][0]) for root in roots}


ALL_ROOTS = set().union(*(third_party_roots(path, top_level_only=False) for path in MODULES.values()))
DISTRIBUTIONS = distributions_of(ALL_ROOTS)
REQUIRED = {distribution_name(requirement) for requirement in project_table()["dependencies"]}  # type: ignore[attr-defined]
OPTIONAL = {
    distribution_name(requirement)
    for requirements in project_table()["optional-dependencies"].values()  # type: ignore[attr-defined]
    for requirement in requirements
}
OPTIONAL_ROOTS = sorted(root for root, dist in DISTRIBUTIONS.items() if dist not in REQUIRED)


def test_every_third_party_import_is_a_declared_dependency() -> None:
    undeclared = {root: dist for root, dist in DISTRIBUTIONS.items() if dist not in REQUIRED | OPTIONAL}
    assert undeclared == {}
    # What the package needs on every install is declared as such, asgiref included.
    assert {"django", "asgiref"} <= {DISTRIBUTIONS[root] for root in ALL_ROOTS} & REQUIRED


# Run in a subprocess: sets up Django with only its own apps, then forks one child per module,
# each of which imports that one module first (no module of the package, nor of an optional
# dependency, is loaded before the fork). A child reports "ok", "missing <name>" or the traceback.
DRIVER = """
import importlib, json, os, sys, traceback
sys.path[:] = json.loads(sys.argv[1])
package, modules, blocked = sys.argv[2], json.loads(sys.argv[3]), json.loads(sys.argv[4])
import django
from django.conf import settings
settings.configure(
    SECRET_KEY="not-secret",
    INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes", "django.contrib.sessions"],
)
django.setup()
preloaded = sorted(name for name in sys.modules if name.split(".")[0] in {package, *blocked})
assert preloaded == [], preloaded
results = {}
for block in (False, True):
    for module in modules:
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read)
            if block:
                for root in blocked:
                    sys.modules[root] = None
            try:
                importlib.import_module(module)
                answer = "ok " + sys.modules[package].__file__
            except ModuleNotFoundError as error:
                answer = "missing " + str(error.name).split(".")[0]
            except BaseException:
                answer = traceback.format_exc()
            os.write(write, answer.encode())
            os._exit(0)
        os.close(write)
        with os.fdopen(read, "rb") as pipe:
            answer = pipe.read().decode()
        os.waitpid(pid, 0)
        results.setdefault(module, {})["blocked" if block else "installed"] = answer
print(json.dumps(results))
"""


@pytest.fixture(scope="module")
def first_imports() -> dict[str, dict[str, str]]:
    completed = subprocess.run(
        [
            sys.executable,
            "-c",
            DRIVER,
            json.dumps(sys.path),
            PACKAGE,
            json.dumps(sorted(MODULES)),
            json.dumps(OPTIONAL_ROOTS),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    results: dict[str, dict[str, str]] = json.loads(completed.stdout)
    return results


@pytest.mark.parametrize("module", sorted(MODULES))
def test_each_module_imports_first_in_a_fresh_interpreter(
    module: str, first_imports: dict[str, dict[str, str]]
) -> None:
    assert first_imports[module]["installed"] == f"ok {restricted_sessions.__file__}"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_only_modules_of_an_extra_need_it(module: str, first_imports: dict[str, dict[str, str]]) -> None:
    # With the optional dependencies absent, a module that imports one at its top level fails with
    # the ModuleNotFoundError that names it; every other module imports as before.
    optional = sorted(third_party_roots(MODULES[module], top_level_only=True) & set(OPTIONAL_ROOTS))
    answer = first_imports[module]["blocked"]
    if optional:
        assert answer.removeprefix("missing ") in optional
    else:
        assert answer == f"ok {restricted_sessions.__file__}"
