"""The Makefile's development commands, and the README showing them as they work.

`make manage ARGS="…"` runs any management command with the virtualenv and the environment of
`make run`; `make admin` runs without questions when given a password; the README shows every
development command through `make manage`.
"""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

import pytest
from django.core.management import get_commands

from tests.helpers import clean_env

ROOT = Path(__file__).resolve().parent.parent
# Tests never install: the stamp counts as up to date, however old it is.
NO_INSTALL = ("-o", ".venv/.installed")


def make(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run make at the repository's root, with exactly this environment (or ours)."""
    return subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def readme_code_lines() -> list[str]:
    """Every line inside the README's fenced code blocks."""
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"^```[a-z]*\n(.*?)^```", readme, flags=re.MULTILINE | re.DOTALL)
    return [line for block in blocks for line in block.splitlines()]


def test_make_manage_runs_one_command_line_with_the_development_environment() -> None:
    dry_run = make("-n", "-W", "requirements.txt", "manage", "ARGS=check --deploy")
    lines = dry_run.stdout.splitlines()

    assert dry_run.returncode == 0, dry_run.stderr
    # It installs first when the requirements changed, as `make run` does.
    assert "pip install" in dry_run.stdout.split("manage.py")[0]
    assert lines[-1] == "export DEBUG=${DEBUG:-true}; .venv/bin/python manage.py check --deploy"


def test_make_manage_passes_quoted_words_through_with_debug_on_by_default(tmp_path: Path) -> None:
    code = (
        "import sys; from django.conf import settings; "
        "print(repr(sys.argv[-1]), settings.DEBUG, settings.VAR_DIR, sys.prefix, sep=chr(10))"
    )
    # No DEBUG and no SECRET_KEY in the environment: a bare manage.py would refuse to start.
    env = clean_env(tmp_path)
    ran = make(*NO_INSTALL, "manage", f'ARGS=shell -c "{code}"', env=env)
    argv_tail, debug, var_dir, prefix = ran.stdout.strip().splitlines()[-4:]

    assert ran.returncode == 0, ran.stderr
    assert argv_tail == repr(code)
    assert debug == "True"
    assert var_dir == str(tmp_path / "var")
    assert Path(prefix) == ROOT / ".venv"


def test_the_environment_can_still_turn_debug_off_under_make_manage(tmp_path: Path) -> None:
    ran = make(*NO_INSTALL, "manage", "ARGS=check", env=clean_env(tmp_path, DEBUG="false"))

    assert ran.returncode != 0
    assert "SECRET_KEY" in ran.stderr


# Two migrations of a new SQLite database: about 7 s.
@pytest.mark.slow
def test_make_admin_takes_the_password_from_the_environment(tmp_path: Path) -> None:
    password = "a long enough test password 1"
    created = make(
        *NO_INSTALL, "admin", env=clean_env(tmp_path, DJANGO_SUPERUSER_PASSWORD=password)
    )
    check = (
        # django-axes' backend counts sign-ins per request: it refuses one without.
        "from django.contrib.auth import authenticate; from django.http import HttpRequest; "
        f"user = authenticate(HttpRequest(), username='admin', password='{password}'); "
        "print(user.is_superuser, user.email)"
    )
    logged_in = make(*NO_INSTALL, "manage", f'ARGS=shell -c "{check}"', env=clean_env(tmp_path))
    # Without a password it asks as before, and so does nothing without a terminal.
    asked = make(*NO_INSTALL, "admin", env=clean_env(tmp_path))

    assert created.returncode == 0, created.stderr
    assert "Superuser created successfully." in created.stdout
    assert password not in created.stdout + created.stderr
    assert logged_in.stdout.strip().splitlines()[-1] == "True admin@localhost"
    assert asked.returncode == 0, asked.stderr
    assert "not running in a TTY" in asked.stdout + asked.stderr


def readme_make_manage_commands(lines: list[str]) -> list[list[str]]:
    """The words each `make manage ARGS=…` of these lines gives manage.py, as a shell reads them."""
    commands = []
    for line in lines:
        words = shlex.split(line, comments=True) if "make manage" in line else []
        for at in [
            i for i, word in enumerate(words[:-1]) if words[i : i + 2] == ["make", "manage"]
        ]:
            args, *rest = words[at + 2 :] or [""]
            # Unquoted, ARGS would take one word and make would read the others as targets.
            assert args.startswith("ARGS="), line
            assert rest[:1] in ([], ["&&"]), line
            commands.append(args.removeprefix("ARGS=").split())
    return commands


def test_the_readme_shows_every_development_command_through_make_manage() -> None:
    lines = readme_code_lines()
    bare = [
        line
        for line in lines
        if "manage.py" in line and "docker compose run --rm web python manage.py" not in line
    ]
    shown = {command[0] for command in readme_make_manage_commands(lines)}
    expected = {"fetch_papers", "load_sample", "preview_digest", "build_issue", "send_due"}

    assert bare == []
    assert expected | {"send_issue"} <= shown
    assert shown <= set(get_commands())


def test_the_readme_check_catches_a_bare_or_unquoted_command() -> None:
    assert readme_make_manage_commands(['make manage ARGS="send_due --enqueue"']) == [
        ["send_due", "--enqueue"]
    ]
    with pytest.raises(AssertionError):
        readme_make_manage_commands(["make manage ARGS=send_due --enqueue"])


# Migrations, the sample, the real embedding model and two digests sent: about 25 s.
@pytest.mark.slow
def test_make_demo_puts_a_real_daily_and_weekly_digest_in_the_outbox(tmp_path: Path) -> None:
    ran = make(*NO_INSTALL, "demo", env=clean_env(tmp_path))
    again = make(*NO_INSTALL, "demo", env=clean_env(tmp_path))
    outbox = sorted((tmp_path / "var" / "outbox").iterdir())
    messages = [path.read_text() for path in outbox]

    assert ran.returncode == 0, ran.stderr
    assert "sent: 2, failed: 0, skipped: 0" in ran.stdout
    assert len(messages) == 2
    assert any("To: daily-reader@demo.localhost" in text for text in messages)
    assert any("To: weekly-reader@demo.localhost" in text for text in messages)
    # Real papers of the sample: each digest links five arXiv abstracts.
    assert all(text.count("https://arxiv.org/abs/") >= 5 for text in messages)
    assert again.returncode == 0, again.stderr
    assert "nothing new to send" in again.stdout
    assert len(list((tmp_path / "var" / "outbox").iterdir())) == 2
