"""The web process and a send never load what only the worker's embedding and refits need."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import clean_env, run_python

HEAVY = ("torch", "sentence_transformers", "sklearn")
_CODE = """
import sys
import django
django.setup()
import config.urls, digest.sending, digest.tasks, digest.views  # the site, a send, the tasks
print(" ".join(name for name in {heavy!r} if name in sys.modules))
"""


def test_the_site_and_the_send_path_import_neither_the_model_nor_scikit_learn(
    tmp_path: Path,
) -> None:
    result = run_python(_CODE.format(heavy=HEAVY), clean_env(tmp_path, DEBUG="true"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_the_check_sees_a_heavy_import(tmp_path: Path) -> None:
    code = _CODE.format(heavy=HEAVY).replace("import sys", "import sys, sklearn.linear_model")
    result = run_python(code, clean_env(tmp_path, DEBUG="true"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["sklearn"]
