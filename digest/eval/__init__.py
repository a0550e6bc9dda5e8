"""Ranking quality: nDCG@k over judged profiles (dev_profiles.json beside this file).

The judgments grade candidates 2 (squarely on topic) or 1 (related); unlisted ones are not
relevant. Gain is 2^grade - 1 with a log2 discount; the ideal DCG comes from all judged ids,
so a ranking is not rewarded for a candidate pool that happens to lack relevant papers.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from papers.sources import hf_api
from papers.sources.records import PaperRecord

EVAL_DIR = Path(__file__).resolve().parent
PROJECT_DIR = EVAL_DIR.parent.parent
DEV_PROFILES = EVAL_DIR / "dev_profiles.json"


@dataclass(frozen=True)
class Profile:
    interests: str
    relevant: dict[str, int]


def dcg(grades: Sequence[int]) -> float:
    return sum((2**grade - 1) / math.log2(rank + 2) for rank, grade in enumerate(grades))


def ndcg_at_k(ranked_ids: Sequence[str], relevant: Mapping[str, int], k: int = 5) -> float:
    """nDCG@k of one ranking; 0 when nothing is judged relevant."""
    ideal = dcg(sorted(relevant.values(), reverse=True)[:k])
    if ideal <= 0:
        return 0.0
    return dcg([relevant.get(arxiv_id, 0) for arxiv_id in ranked_ids[:k]]) / ideal


def profiles_load(path: Path = DEV_PROFILES) -> tuple[list[Profile], list[PaperRecord]]:
    """The judged profiles and their candidates (the HF daily_papers file the judgments name).

    The file names its candidates relative to the fixtures folder, which lives under tests/.
    """
    data = json.loads(path.read_text(encoding="utf-8"))
    candidates_file = PROJECT_DIR / "tests" / data["candidates_file"]
    records = hf_api.parse(candidates_file.read_bytes()).records
    profiles = [
        Profile(p["interests"], {k: int(v) for k, v in p["relevant"].items()})
        for p in data["profiles"]
    ]
    return profiles, records


def mean_ndcg(
    profiles: Sequence[Profile], rank: Callable[[str], Sequence[str]], k: int = 5
) -> float:
    """nDCG@k averaged over profiles; `rank(interests)` answers arXiv ids, best first."""
    if not profiles:
        return 0.0
    return sum(ndcg_at_k(rank(p.interests), p.relevant, k) for p in profiles) / len(profiles)
