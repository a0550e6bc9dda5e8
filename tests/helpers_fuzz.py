"""For the fuzz tests: Hypothesis settings, a command runner and a snapshot of everything stored."""

from __future__ import annotations

from io import StringIO
from typing import Any

from django.apps import apps
from django.core.management import call_command
from django.core.management.base import CommandError
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

# Deterministic and modest: the same examples every run, and the whole folder in well under a
# minute.
FUZZ = settings(
    max_examples=60,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# The apps whose rows bad input must never touch, plus the users and sessions of the admin.
STORED_APPS = ("papers", "subscriptions", "digest", "auth", "sessions")

anything = st.text(max_size=40)


def stored_state() -> dict[str, Any]:
    """Every row of every model that bad input must not change, by model (ids and field values)."""
    state: dict[str, Any] = {}
    for app_label in STORED_APPS:
        try:
            config = apps.get_app_config(app_label)
        except LookupError:
            continue
        for model in config.get_models():
            if not model._meta.managed:
                continue  # not Django's rows: SQLite's search index, kept by triggers
            fields = [field.attname for field in model._meta.concrete_fields]
            rows = model._default_manager.order_by("pk").values_list(*fields)
            state[model._meta.label] = [tuple(_comparable(value) for value in row) for row in rows]
    return state


def _comparable(value: Any) -> Any:
    # Vectors and JSON come back as lists and dicts: compare them by their text.
    return repr(value) if isinstance(value, list | dict | bytes | memoryview) else value


def state_counts(state: dict[str, Any]) -> dict[str, int]:
    """Rows per model, for a readable assertion message."""
    return {label: len(rows) for label, rows in state.items() if rows}


def command_argv(
    options: dict[str, st.SearchStrategy[str]], flags: list[str]
) -> st.SearchStrategy[list[str]]:
    """Command lines of these options (any order, any may repeat), flags, and stray words."""
    option = st.sampled_from(sorted(options)).flatmap(
        lambda name: options[name].map(lambda value: [name, value])
    )
    parts = st.one_of(
        option,
        option,
        option,
        st.sampled_from(flags).map(lambda flag: [flag]),
        anything.map(lambda w: [w]),
    )
    return st.lists(parts, max_size=5).map(
        lambda chunks: [word for chunk in chunks for word in chunk]
    )


def command_run(name: str, argv: list[str]) -> tuple[bool, str]:
    """Run a command: (True, output), or (False, message) on a CommandError; anything else fails."""
    out = StringIO()
    try:
        call_command(name, *argv, stdout=out, stderr=out)
    except CommandError as error:
        message = str(error)
        assert message
        assert "Traceback" not in message
        return False, message
    return True, out.getvalue()
