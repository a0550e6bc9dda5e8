"""Layers point down: papers knows nothing of subscriptions or digest, nor subscriptions of digest.

Checked on the source itself: every import statement of every module, at the top or inside a
function, relative imports resolved.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Each app, and the apps built on it that it must never import.
HIGHER = {"papers": {"subscriptions", "digest"}, "subscriptions": {"digest"}}


def imported_modules(source: str, *, module: str) -> set[str]:
    """Every module an import statement of this source names (relative imports made absolute)."""
    package = module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = (
                package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            )
            name = ".".join([*base, node.module or ""]).strip(".")
            found.add(name)
            found.update(f"{name}.{alias.name}" for alias in node.names)
    return found


def upward_imports(app: str) -> list[str]:
    """'module: imported' for each import of a higher app by a module of `app`."""
    found = []
    for path in sorted((ROOT / app).rglob("*.py")):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for name in sorted(imported_modules(path.read_text(), module=module)):
            if name.split(".")[0] in HIGHER[app]:
                found.append(f"{module}: {name}")
    return found


@pytest.mark.parametrize("app", sorted(HIGHER))
def test_a_lower_app_never_imports_the_apps_built_on_it(app: str) -> None:
    assert upward_imports(app) == []


def test_the_check_finds_an_import_hidden_in_a_function_and_a_relative_one() -> None:
    source = "def later():\n    from digest.tasks import tick\n\nfrom ..digest import models\n"
    names = imported_modules(source, module="subscriptions.services")
    assert {"digest.tasks", "digest.tasks.tick", "digest", "digest.models"} <= names
