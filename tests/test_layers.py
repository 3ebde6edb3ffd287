"""Data flows one way: api -> Temporal client -> workflows -> activities -> db and integrations.

Each package's module-level imports are checked against what its docstring allows. Workflow
modules may reach activities only inside ``workflow.unsafe.imports_passed_through()``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OURS = {"api", "activities", "workflows", "domain", "db", "integrations", "hrflow", "worker"}

# package -> our packages it may import at module level
ALLOWED = {
    "domain": {"domain"},
    "db": {"db", "domain"},
    "integrations": {"integrations", "domain", "db"},
    "activities": {"activities", "db", "domain", "integrations"},
    "workflows": {"workflows", "domain"},
    "api": {"api", "db", "domain", "workflows", "hrflow", "activities"},
}
# Third-party modules a workflow file must never import outside the pass-through block.
FORBIDDEN_IN_WORKFLOWS = {"sqlalchemy", "psycopg2", "fastapi", "httpx", "requests", "urllib"}


def _is_passthrough(node: ast.With) -> bool:
    return any("imports_passed_through" in ast.unparse(item.context_expr) for item in node.items)


def _imports(tree: ast.Module) -> list[tuple[str, bool]]:
    """(top-level module name, inside pass-through) for each import outside functions."""
    found: list[tuple[str, bool]] = []

    def visit(nodes: list[ast.stmt], passthrough: bool) -> None:
        for node in nodes:
            if isinstance(node, ast.Import):
                found.extend((a.name.split(".")[0], passthrough) for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.append((node.module.split(".")[0], passthrough))
            elif isinstance(node, ast.With):
                visit(node.body, passthrough or _is_passthrough(node))
            elif isinstance(node, (ast.If, ast.Try)):
                visit(node.body, passthrough)

    visit(tree.body, False)
    return found


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_follow_the_layers(package: str) -> None:
    wrong = []
    for path in _modules(package):
        for module, passthrough in _imports(ast.parse(path.read_text())):
            if package == "workflows" and passthrough:
                continue
            if module in OURS and module not in ALLOWED[package]:
                wrong.append(f"{path.relative_to(ROOT)} imports {module}")
            if package == "workflows" and module in FORBIDDEN_IN_WORKFLOWS:
                wrong.append(f"{path.relative_to(ROOT)} imports {module} (I/O in workflow code)")
    assert wrong == []


def test_every_package_says_what_it_may_import() -> None:
    for package in ALLOWED:
        doc = ast.get_docstring(ast.parse((ROOT / package / "__init__.py").read_text()))
        assert doc and "import" in doc, f"{package}/__init__.py needs a docstring on its imports"
