"""Every import of ours follows the layer table in the README, and the table is the truth.

The table is read from README.md (section "Architecture"), so it cannot drift from what is checked.
Every import counts: at module level, inside functions and ``if`` blocks, inside
``workflow.unsafe.imports_passed_through()``, relative ones, and ``from package import module``.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ALL = "all"
# Third-party modules that do I/O: never in workflow code, wherever the import stands.
FORBIDDEN_IN_WORKFLOWS = {"sqlalchemy", "psycopg2", "fastapi", "httpx", "requests", "urllib", "socket", "smtplib"}


@dataclass(frozen=True)
class Layer:
    name: str
    paths: tuple[str, ...]  # "db/" (a folder) or "hrflow/settings.py" (a file)
    may_import: frozenset[str] | None  # None: all


def read_table(readme: str) -> list[Layer]:
    """The rows of the README's layer table: | `layer` | `paths` ... | holds | `may`, `import` |."""
    section = readme[readme.index("## Architecture"):]
    layers = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 4 or not cells[0].startswith("`"):
            continue
        name = re.findall(r"`([^`]+)`", cells[0])[0]
        paths = tuple(re.findall(r"`([^`]+)`", cells[1]))
        may = None if cells[3] == ALL else frozenset(re.findall(r"`([^`]+)`", cells[3]))
        layers.append(Layer(name, paths, may))
    return layers


LAYERS = read_table((ROOT / "README.md").read_text())


def layer_of(path: str) -> Layer | None:
    """The layer a file belongs to: a row naming the file itself wins over one naming its folder."""
    for layer in LAYERS:
        if path in layer.paths:
            return layer
    for layer in LAYERS:
        if any(p.endswith("/") and path.startswith(p) for p in layer.paths):
            return layer
    return None


def module_file(module: str) -> str | None:
    """``db.models`` -> ``db/models/__init__.py`` or ``db/models.py``, when it is ours."""
    base = module.replace(".", "/")
    for candidate in (f"{base}.py", f"{base}/__init__.py"):
        if (ROOT / candidate).exists():
            return candidate
    return None


def _is_passthrough(node: ast.With) -> bool:
    return any("imports_passed_through" in ast.unparse(item.context_expr) for item in node.items)


def imports(source: str, path: str) -> list[str]:
    """Every module an import in ``source`` (the file ``path``) names, wherever it stands."""
    package = path.rsplit("/", 1)[0].replace("/", ".") if "/" in path else ""
    if path.endswith("__init__.py"):
        package = path[: -len("/__init__.py")].replace("/", ".")
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            found.append(base)
            # ``from db import audit`` imports the module db.audit
            found.extend(f"{base}.{a.name}" for a in node.names if module_file(f"{base}.{a.name}"))
    return found


def violations(source: str, path: str) -> list[str]:
    layer = layer_of(path)
    if layer is None or layer.may_import is None:
        return []
    wrong = []
    for module in imports(source, path):
        top = module.split(".")[0]
        if layer.name == "workflows" and top in FORBIDDEN_IN_WORKFLOWS:
            wrong.append(f"{path} imports {module} (I/O in workflow code)")
        target_file = module_file(module)
        if target_file is None:
            continue
        target = layer_of(target_file)
        if target is None or target.name == layer.name:
            continue
        if target.name not in layer.may_import:
            wrong.append(f"{path} imports {module} (layer {target.name}; {layer.name} may import"
                         f" {', '.join(sorted(layer.may_import)) or 'nothing of ours'})")
    return wrong


def _ours() -> list[Path]:
    files = []
    for layer in LAYERS:
        for p in layer.paths:
            files += sorted((ROOT / p).rglob("*.py")) if p.endswith("/") else [ROOT / p]
    return sorted({f for f in files if "migrations/versions" not in str(f)})


def test_the_table_covers_every_package_of_ours() -> None:
    names = {layer.name for layer in LAYERS}
    assert {"domain", "db", "integrations", "activities", "workflows", "api"} <= names
    for folder in ("domain", "db", "integrations", "activities", "workflows", "api", "hrflow"):
        for path in (ROOT / folder).rglob("*.py"):
            assert layer_of(str(path.relative_to(ROOT))) is not None, f"{path} is in no layer of the README table"
    assert layer_of("worker.py") is not None


@pytest.mark.parametrize("path", _ours(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_import_follows_the_table(path: Path) -> None:
    assert violations(path.read_text(), str(path.relative_to(ROOT))) == []


@pytest.mark.parametrize(("path", "source"), [
    ("workflows/x.py", "def f():\n    from activities.cases import CaseActivities\n"),
    ("workflows/x.py", ("from temporalio import workflow\nwith workflow.unsafe.imports_passed_through():\n"
                        "    from db import audit\n")),
    ("workflows/x.py", "import sqlalchemy\n"),
    ("domain/x.py", "from db import models\n"),
    ("api/routes/x.py", "from ...activities import cases\n"),
    ("api/x.py", "from hrflow import cli\n"),
    ("db/x.py", "if True:\n    import api.app\n"),
])
def test_a_bad_import_anywhere_is_caught(path: str, source: str) -> None:
    """The checker itself: each of these breaks the table and must be reported."""
    assert violations(source, path), f"{path}: {source!r} was not caught"


def test_allowed_imports_pass() -> None:
    assert violations("from domain.contracts.cases import OpenCase\n", "workflows/x.py") == []
    assert violations("from hrflow.settings import Settings\n", "api/x.py") == []
    assert violations("from api.app import create_app\n", "hrflow/cli.py") == []


def test_workflow_code_loads_no_database_or_network_code() -> None:
    """Importing every workflow (what the worker's sandbox does for each task) loads none of the
    activities, db, integrations, api or hrflow modules, nor SQLAlchemy or an HTTP client."""
    import subprocess
    import sys

    probe = ("import sys, workflows.registry; print(sorted(m for m in sys.modules if m.split('.')[0] in"
             " ('activities', 'db', 'integrations', 'api', 'hrflow', 'sqlalchemy', 'psycopg2', 'httpx', 'fastapi')))")
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
