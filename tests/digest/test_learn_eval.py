from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path
from types import ModuleType

import pytest

from digest.eval import ndcg_at_k


def _bench() -> ModuleType:
    """bench/learn_eval.py, loaded by path: bench/ is a folder of scripts, not a package."""
    if "learn_eval" in sys.modules:
        return sys.modules["learn_eval"]
    path = Path(__file__).resolve().parents[2] / "bench" / "learn_eval.py"
    spec = importlib.util.spec_from_file_location("learn_eval", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # Registered before running it: its dataclasses look their module up in sys.modules.
    sys.modules["learn_eval"] = module
    spec.loader.exec_module(module)
    return module


def test_it_votes_up_grade_2_and_3_down_unlisted_and_not_at_all_on_grade_1() -> None:
    grades = {"a": 3, "b": 2, "c": 1}
    up, down = _bench().votes_cast(["a", "x", "c", "b", "y"], grades)
    assert up == ["a", "b"]
    assert down == ["x", "y"]


def test_a_hand_made_day_scores_as_the_readme_says() -> None:
    # Judged that day: a=3, b=1. Shown x, b, a: (1/log2(3) + 7/log2(4)) / (7 + 1/log2(3)).
    expected = (1 / math.log2(3) + 7 / 2) / (7 + 1 / math.log2(3))
    assert ndcg_at_k(["x", "b", "a", "y", "z"], {"a": 3, "b": 1}, 5) == pytest.approx(expected)


def test_the_figure_averages_judged_profile_days_of_the_asked_days_only() -> None:
    run = _bench().Run({("rl", "d1"): 1.0, ("rl", "d2"): 0.5, ("vlm", "d2"): 0.0})
    assert run.mean(["d2"]) == pytest.approx(0.25)
    assert run.mean(["d1", "d2"]) == pytest.approx(0.5)
    assert run.mean(["d3"]) == 0.0
