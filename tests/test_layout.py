"""Tests share helpers through helpers.py, factories.py and fixtures, never through each other."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def _in_tests(dotted: str) -> bool:
    return dotted.split(".")[0] == "tests"


def _is_test(dotted: str) -> bool:
    return any(part == "conftest" or part.startswith("test_") for part in dotted.split("."))


def imported_test_modules(source: str) -> list[str]:
    """The test_* and conftest modules this source imports (tests.* and relative imports only)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [
                alias.name for alias in node.names if _in_tests(alias.name) and _is_test(alias.name)
            ]
        elif isinstance(node, ast.ImportFrom) and (node.level or _in_tests(node.module or "")):
            base = "." * node.level + (node.module or "")
            if _is_test(node.module or ""):
                found.append(base)
            else:
                # `from tests.digest import test_sending` names the module in the alias, not in
                # `module`.
                found += [f"{base}.{alias.name}" for alias in node.names if _is_test(alias.name)]
    return found


def test_the_check_sees_every_way_of_importing_a_test_module() -> None:
    assert imported_test_modules("from tests.digest.test_sending import DAY") == [
        "tests.digest.test_sending"
    ]
    assert imported_test_modules("from tests.subscriptions.conftest import FORM")
    assert imported_test_modules("from tests.digest import test_sending")
    assert imported_test_modules("import tests.test_settings")
    assert imported_test_modules("from tests import test_settings")
    assert imported_test_modules("from .conftest import FORM")
    assert imported_test_modules("from . import test_webhooks")
    assert not imported_test_modules(
        "from tests.helpers import FORM\nfrom django.test import Client"
    )


def test_no_test_module_imports_another_test_module_or_a_conftest() -> None:
    modules = sorted(TESTS.rglob("*.py"))
    assert len(modules) > 20
    offenders = {
        str(path.relative_to(TESTS.parent)): imported
        for path in modules
        if (imported := imported_test_modules(path.read_text()))
    }
    assert offenders == {}, "move shared helpers to tests/helpers.py or tests/factories.py"
