"""The documentation tells the truth: its settings, its examples and its version are the code's.

Runs in every test environment; Sphinx is not needed (``tox -e docs`` builds the HTML).

Code examples
-------------
Every ``.. code-block:: python`` in README.rst and docs/*.rst is a test case. An rst comment on the
last non-blank line before the block says how it runs (comments are invisible in the output):

``.. docs-test: run`` (the default, when there is no comment)
    Executed as a script in a fresh namespace, under the test settings, with database access.
``.. docs-test: settings``
    A settings fragment, executed into a dict. Its ``RESTRICTEDSESSIONS_*`` values and its
    ``MIDDLEWARE`` must pass the library's system checks (no error, no warning), and the dotted
    paths it names (middleware, DRF classes, reporter filter, session engine, cache backends,
    apps) must import.
``.. docs-test: module NAME``
    A module of the reader's project (``myproject/failures.py``), installed as ``NAME`` for the
    duration of each example test, so that settings fragments (a FAILURE_HANDLER path) and client
    examples (a URLconf) can name it.
``.. docs-test: client URLCONF``
    An HTTP client example (httpx): run against this Django app through ``httpx.WSGITransport``
    with ``ROOT_URLCONF = URLCONF`` (a module example), as a user whose credentials are in the
    ``API_USERNAME`` and ``API_PASSWORD`` environment variables. No live server is needed.
``.. docs-test: skip REASON``
    Not run. The reason is required; prefer making the example runnable.

An example is skipped, with the reason shown by ``pytest -ra``, only when it imports an optional
package that this environment lacks (Channels, django-ninja, django-cors-headers, httpx) or a
placeholder module of the reader's own project (``mysite``, ``chat``...) that no module example
provides.
"""

from __future__ import annotations

import ast
import importlib
import re
import runpy
import sys
import textwrap
import types
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import override_settings
from django.utils.module_loading import import_string

import restricted_sessions
from restricted_sessions.checks import check_middleware, check_settings
from restricted_sessions.conf import DEFAULTS, PREFIX
from restricted_sessions.signals import session_restricted

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
README = ROOT / "README.rst"
PAGES = [README, *sorted(DOCS.glob("*.rst"))]

MODES = ("run", "settings", "module", "client", "skip")
OPTIONAL_PACKAGES = {"channels", "ninja", "corsheaders", "httpx", "daphne", "uvicorn"}
PLACEHOLDER_MODULES = {"mysite", "myproject", "myapp", "myapi", "chat", "project"}

DIRECTIVE = re.compile(r"^(?P<indent> *)\.\. code-block:: python\s*$")
MARKER = re.compile(r"^ *\.\. docs-test:(?P<rest>.*)$")


# Reading the rst ---------------------------------------------------------------------------


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


@dataclass(frozen=True)
class Example:
    page: Path
    line: int
    mode: str
    argument: str
    code: str

    def __str__(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def _examples(page: Path) -> list[Example]:
    lines = page.read_text(encoding="utf-8").splitlines()
    found = []
    for index, line in enumerate(lines):
        directive = DIRECTIVE.match(line)
        if directive is None:
            continue
        indent = len(directive["indent"])
        before = index - 1
        while before >= 0 and not lines[before].strip():
            before -= 1
        marker = MARKER.match(lines[before]) if before >= 0 else None
        mode, _, argument = (marker["rest"].strip() if marker else "run").partition(" ")
        body_start = index + 1
        while body_start < len(lines) and lines[body_start].strip().startswith(":"):
            body_start += 1  # Directive options (:caption: ...).
        end = body_start
        while end < len(lines) and (not lines[end].strip() or _indent(lines[end]) > indent):
            end += 1
        code = textwrap.dedent("\n".join(lines[body_start:end])).strip("\n") + "\n"
        found.append(Example(page, index + 1, mode, argument.strip(), code))
    return found


EXAMPLES = [example for page in PAGES for example in _examples(page)]
MODULE_EXAMPLES = [example for example in EXAMPLES if example.mode == "module"]


def _examples_of(mode: str) -> list[Any]:
    return [pytest.param(example, id=str(example)) for example in EXAMPLES if example.mode == mode]


def _setting_entries(page: Path) -> dict[str, tuple[str, Any]]:
    """``{NAME: (type, default)}`` of the entries that read ````RESTRICTEDSESSIONS_NAME: type````.

    The default is the first ``Default`` line after the entry: ``Default: ``"raw"```` (docs) or
    ``Default ``"raw"``.`` (README), parsed as a Python literal.
    """
    lines = page.read_text(encoding="utf-8").splitlines()
    entries: dict[str, tuple[str, Any]] = {}
    for index, line in enumerate(lines):
        entry = re.fullmatch(rf"``{PREFIX}(\w+): ([^`]+)``", line.strip())
        if entry is None:
            continue
        name, annotation = entry.groups()
        assert name not in entries, f"{page.name}: {name} is documented twice"
        following = "\n".join(lines[index + 1 : index + 6])
        default = re.search(r"Default:? ``(.+?)``", following)
        assert default is not None, f"{page.name}: {name} has no 'Default ``...``' line"
        entries[name] = (annotation, ast.literal_eval(default[1]))
    return entries


def _conforms(value: Any, annotation: str) -> bool:
    checks = {
        "None": lambda value: value is None,
        "bool": lambda value: isinstance(value, bool),
        "int": lambda value: isinstance(value, int) and not isinstance(value, bool),
        "str": lambda value: isinstance(value, str),
        "list[str]": lambda value: isinstance(value, list) and all(isinstance(entry, str) for entry in value),
    }
    return any(checks[part.strip()](value) for part in annotation.split("|"))


# (1) The settings reference and the README list the code's settings and defaults ----------


@pytest.mark.parametrize("page", [DOCS / "settings.rst", README], ids=["docs/settings.rst", "README.rst"])
def test_documented_settings_and_defaults_are_the_codes(page: Path) -> None:
    entries = _setting_entries(page)
    assert {name: default for name, (_, default) in entries.items()} == DEFAULTS
    for name, (annotation, default) in entries.items():
        assert _conforms(default, annotation), f"{page.name}: {name}: {default!r} is not {annotation}"


def test_docs_and_readme_document_the_same_types() -> None:
    docs = {name: annotation for name, (annotation, _) in _setting_entries(DOCS / "settings.rst").items()}
    readme = {name: annotation for name, (annotation, _) in _setting_entries(README).items()}
    assert docs == readme


def test_every_setting_named_in_the_docs_exists() -> None:
    for page in [*PAGES, ROOT / "CHANGELOG.rst"]:
        named = set(re.findall(rf"{PREFIX}([A-Z0-9_]*[A-Z0-9])", page.read_text(encoding="utf-8")))
        assert named <= set(DEFAULTS), f"{page.name} names unknown settings: {named - set(DEFAULTS)}"


def _check_ids_in_code() -> set[str]:
    """Every check id the package can report: ``restricted_sessions.E008`` written out (checks.py,
    deploy.py) or ``"E001"`` passed to ``conf.problems``' helper, in any module of the package."""
    found: set[str] = set()
    for module in (ROOT / "restricted_sessions").rglob("*.py"):
        source = module.read_text(encoding="utf-8")
        found |= set(re.findall(r"restricted_sessions\.[EW]\d{3}", source))
        found |= {f"restricted_sessions.{short}" for short in re.findall(r"[\"']([EW]\d{3})[\"']", source)}
    return found


def test_the_system_check_table_lists_every_check_id() -> None:
    in_code = _check_ids_in_code()
    assert {"restricted_sessions.E001", "restricted_sessions.E010", "restricted_sessions.W004"} <= in_code
    table = (DOCS / "settings.rst").read_text(encoding="utf-8").partition("System checks\n=====")[2]
    in_table = set(re.findall(r"^   \* - ``(restricted_sessions\.[EW]\d{3})``$", table, re.MULTILINE))
    assert in_table == in_code


# (2) Every Python example runs ------------------------------------------------------------


def test_examples_are_found_and_every_marker_is_known() -> None:
    assert len(EXAMPLES) >= 20
    for example in EXAMPLES:
        assert example.mode in MODES, f"{example}: unknown docs-test mode {example.mode!r}"
        if example.mode in ("module", "client", "skip"):
            assert example.argument, f"{example}: 'docs-test: {example.mode}' needs an argument"
    for page in PAGES:
        lines = page.read_text(encoding="utf-8").splitlines()
        for index, line in enumerate(lines):
            if MARKER.match(line):
                following = next((rest for rest in lines[index + 1 :] if rest.strip()), "")
                assert DIRECTIVE.match(following), f"{page.name}:{index + 1}: marker before no python block"


def _skip_if_optional(error: ModuleNotFoundError, example: Example) -> None:
    root = (error.name or "").partition(".")[0]
    if root in OPTIONAL_PACKAGES or root in PLACEHOLDER_MODULES:
        pytest.skip(f"{example} needs {error.name}, not installed here")
    raise error


def _run(example: Example, namespace: dict[str, Any]) -> dict[str, Any]:
    try:
        exec(compile(example.code, str(example), "exec"), namespace)  # noqa: S102
    except ModuleNotFoundError as error:
        _skip_if_optional(error, example)
    return namespace


def _install(name: str, example: Example) -> list[str]:
    """Install the example as module ``name`` (and empty parent packages); return the new names."""
    installed = []
    parts = name.split(".")
    for depth in range(1, len(parts)):
        package = ".".join(parts[:depth])
        if package not in sys.modules:
            parent = types.ModuleType(package)
            parent.__path__ = []
            sys.modules[package] = parent
            installed.append(package)
    module = types.ModuleType(name)
    module.__file__ = str(example)
    sys.modules[name] = module
    installed.append(name)
    exec(compile(example.code, str(example), "exec"), module.__dict__)  # noqa: S102
    return installed


@pytest.fixture
def project_modules() -> Iterator[None]:
    """The module examples, importable under their names; removed afterwards with their receivers."""
    installed: list[str] = []
    receivers = list(session_restricted.receivers)
    try:
        for example in MODULE_EXAMPLES:
            installed += _install(example.argument, example)
        yield
    finally:
        for name in installed:
            sys.modules.pop(name, None)
        with session_restricted.lock:
            session_restricted.receivers[:] = receivers
            session_restricted.sender_receivers_cache.clear()


def test_module_examples_import(project_modules: None) -> None:
    for example in MODULE_EXAMPLES:
        assert example.argument in sys.modules


@pytest.mark.django_db
@pytest.mark.parametrize("example", _examples_of("run"))
def test_script_examples_run(example: Example, project_modules: None) -> None:
    _run(example, {"__name__": "docs_example"})


def _imports(path: str, example: Example) -> None:
    try:
        if "." in path:
            import_string(path)
        else:
            importlib.import_module(path)
    except ModuleNotFoundError as error:
        _skip_if_optional(error, example)
    except ImportError:
        importlib.import_module(path)  # A module path (SESSION_ENGINE), not a class.


@pytest.mark.parametrize("example", _examples_of("settings"))
def test_settings_examples_pass_the_checks(example: Example, project_modules: None) -> None:
    values = {name: value for name, value in _run(example, {"__name__": "settings"}).items() if name.isupper()}
    assert values, f"{example} sets nothing"
    overrides = {name: value for name, value in values.items() if name.startswith(PREFIX)}
    assert set(overrides) <= {PREFIX + name for name in DEFAULTS}
    paths = [*values.get("MIDDLEWARE", []), *values.get("INSTALLED_APPS", [])]
    paths += values.get("REST_FRAMEWORK", {}).get("DEFAULT_AUTHENTICATION_CLASSES", [])
    paths += [cache["BACKEND"] for cache in values.get("CACHES", {}).values()]
    paths += [values[name] for name in ("DEFAULT_EXCEPTION_REPORTER_FILTER", "SESSION_ENGINE") if name in values]
    for path in paths:
        _imports(path, example)
    if "MIDDLEWARE" in values:
        overrides["MIDDLEWARE"] = values["MIDDLEWARE"]
    with override_settings(**overrides):
        messages = check_settings() + check_middleware()
    assert messages == []


@pytest.fixture
def api_user(monkeypatch: pytest.MonkeyPatch) -> None:
    username, password = "docs-reader", "correct horse battery staple"
    get_user_model().objects.create_user(username, password=password)
    monkeypatch.setenv("API_USERNAME", username)
    monkeypatch.setenv("API_PASSWORD", password)


@pytest.mark.django_db
@pytest.mark.parametrize("example", _examples_of("client"))
def test_client_examples_run_against_the_app(
    example: Example, project_modules: None, api_user: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    httpx = pytest.importorskip("httpx")
    from django.core.handlers.wsgi import WSGIHandler

    with override_settings(ROOT_URLCONF=example.argument, ALLOWED_HOSTS=["*"]):
        app = WSGIHandler()

        network_client = httpx.Client

        def client(*args: Any, **kwargs: Any) -> Any:
            """An httpx.Client talking to the Django app in this process instead of the network."""
            kwargs.setdefault("transport", httpx.WSGITransport(app=app))
            return network_client(*args, **kwargs)

        monkeypatch.setattr(httpx, "Client", client)
        # As Django's test client does: keep the test's database connection open.
        request_started.disconnect(close_old_connections)
        request_finished.disconnect(close_old_connections)
        try:
            _run(example, {"__name__": "docs_example"})
        finally:
            request_started.connect(close_old_connections)
            request_finished.connect(close_old_connections)


# (3) One version everywhere ---------------------------------------------------------------


def test_sphinx_release_is_the_package_version() -> None:
    path = list(sys.path)
    try:
        release = runpy.run_path(str(DOCS / "conf.py"))["release"]
    finally:
        # docs/conf.py puts the checkout first on sys.path for autodoc: never for the tests that follow.
        sys.path[:] = path
    assert release == restricted_sessions.__version__


def test_newest_changelog_entry_is_the_package_version() -> None:
    changelog = (ROOT / "CHANGELOG.rst").read_text(encoding="utf-8")
    heading = re.search(r"^(\d+\.\d+\.\d+) \((\d{4}-\d{2}-\d{2})\)\n-+$", changelog, re.MULTILINE)
    assert heading is not None
    assert heading[1] == restricted_sessions.__version__
    date.fromisoformat(heading[2])


# The table of contents (Sphinx -W fails on a page in no toctree, or a toctree entry with no page)


def test_every_page_is_in_the_toctree() -> None:
    index = (DOCS / "index.rst").read_text(encoding="utf-8")
    entries = []
    for toctree in re.findall(r"^\.\. toctree::\n((?:(?:   .*)?\n)+)", index, re.MULTILINE):
        entries += [line.strip() for line in toctree.splitlines() if line.strip() and not line.strip().startswith(":")]
    pages = {page.stem for page in DOCS.glob("*.rst")} - {"index"}
    assert sorted(entries) == sorted(pages)


# (4) The API page documents exactly each module's __all__ ----------------------------------

PACKAGE = ROOT / "restricted_sessions"
API_DIRECTIVE = re.compile(
    r"^\.\. (?:auto)?(?:class|function|data|exception|attribute|method|decorator):: (restricted_sessions[\w.]*)$",
    re.MULTILINE,
)


def _module_path(dotted: str) -> Path | None:
    relative = Path(*dotted.split("."))
    for candidate in (ROOT / relative.with_suffix(".py"), ROOT / relative / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _public_names(module: Path) -> list[str] | None:
    """The module's ``__all__`` (read from its source, so optional extras need not be installed)."""
    for node in ast.parse(module.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(getattr(target, "id", None) == "__all__" for target in node.targets):
            names: list[str] = ast.literal_eval(node.value)
            return names
    return None


def _top_level_names(module: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.parse(module.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names |= {target.id for target in node.targets if isinstance(target, ast.Name)}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.ImportFrom | ast.Import):
            names |= {alias.asname or alias.name.partition(".")[0] for alias in node.names}
    return names


def _documented_api() -> dict[str, set[str]]:
    """``{module: {name, ...}}`` of every object the API page describes (module-level names)."""
    documented: dict[str, set[str]] = {}
    for dotted in API_DIRECTIVE.findall((DOCS / "api.rst").read_text(encoding="utf-8")):
        parts = dotted.split(".")
        for split in range(len(parts) - 1, 0, -1):
            module = ".".join(parts[:split])
            if _module_path(module) is not None:
                documented.setdefault(module, set()).add(parts[split])
                break
        else:
            raise AssertionError(f"api.rst documents {dotted}, which is in no module of the package")
    return documented


def test_the_api_page_documents_exactly_every_modules_all() -> None:
    documented = _documented_api()
    modules_with_all: dict[str, list[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        names = _public_names(path)
        if names:
            modules_with_all[".".join(path.relative_to(ROOT).with_suffix("").parts)] = names
    assert {"restricted_sessions.binding", "restricted_sessions.conf", "restricted_sessions.dpop"} <= set(
        modules_with_all
    )
    for module, names in modules_with_all.items():
        assert documented.get(module, set()) == set(names), f"api.rst vs {module}.__all__"
    for module, described in documented.items():
        source = _module_path(module)
        assert source is not None
        assert described <= _top_level_names(source), f"api.rst documents names {module} does not define"


def test_the_api_pages_class_members_exist() -> None:
    text = (DOCS / "api.rst").read_text(encoding="utf-8")
    for dotted, members in re.findall(r"^\.\. autoclass:: ([\w.]+)\n   :members: (.+)$", text, re.MULTILINE):
        module, _, name = dotted.rpartition(".")
        cls = getattr(importlib.import_module(module), name)
        for member in members.split(","):
            assert hasattr(cls, member.strip()), f"{dotted}.{member.strip()} does not exist"


def test_the_module_map_lists_every_module() -> None:
    text = (DOCS / "api.rst").read_text(encoding="utf-8")
    mapped = re.findall(r"^ *\* ``(restricted_sessions[\w.]*)``: \S", text.partition("Module map\n")[2], re.MULTILINE)
    modules = {
        ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for path in PACKAGE.rglob("*.py")
    }
    assert sorted(mapped) == sorted(modules)
