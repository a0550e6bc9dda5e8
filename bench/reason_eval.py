"""Honest reasons: how often a pick labelled "matches" is relevant, on judged days of real papers.

    python bench/reason_eval.py            (make bench)

Data: digest/eval/learn_dev/ (real Hugging Face Daily Papers of 11 January 2026 weekdays, 14
judged readers; see its README). For each profile and day, that day's papers are ranked cold
(interests only, as candidates_rank does) and the top 5 are the digest. Per rule it measures:

- precision of the "matches" label: the share of picks labelled a match that are relevant at
  all (grade >= 1), and clearly relevant (grade >= 2), pooled over all digests;
- how many of the 5 picks are labelled a match, and how many relevant picks are (recall);
- how often the whole digest falls back to trending (nothing related), and how often no pick
  is labelled a match (fallbacks included);
- nDCG@5 as the README scores it ((profile, day) pairs with no judged paper skipped).

Tuning days are the first 7; the last 4 (2026-01-22, -23, -26, -27) are held out and only
reported. "before" is the old rule (cosine >= 0.30 to the best facet, or any interests word),
"after" is what digest.ranking does now. A sweep of the cosine threshold on the tuning days,
and the precision of matches by words alone, show where the constants come from. Loads the
model once; needs no database and no network. Prints figures, then one JSON line.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from digest import ranking  # noqa: E402
from digest.embeddings import papers_embed  # noqa: E402
from digest.eval import ndcg_at_k  # noqa: E402
from papers.sources import hf_api  # noqa: E402
from papers.sources.records import PaperRecord  # noqa: E402

K = 5
DATA = ROOT / "digest" / "eval" / "learn_dev"
HELD_OUT_DAYS = ("2026-01-22", "2026-01-23", "2026-01-26", "2026-01-27")
OLD_MATCH_MIN_SIMILARITY = 0.30
SWEEP = [round(0.20 + 0.02 * step, 2) for step in range(21)]  # 0.20 .. 0.60
TARGET_PRECISION = 0.75


@dataclass(frozen=True)
class Case:
    """One profile on one day: its scored pool and the judged grades of that day."""

    day: str
    key: str
    interests: str
    grades: dict[str, int]
    pool: ranking.CandidatePool
    scored: ranking._PoolScores


# A rule answers, for one case: the picks' indexes, whether it fell back, and which are labelled.
Rule = Callable[[Case], tuple[list[int], bool, list[bool]]]


def _semantic_rule(threshold: float, *, words: bool) -> Rule:
    """Match when cosine >= threshold (or, with `words`, when any interests word occurs)."""

    def rule(case: Case) -> tuple[list[int], bool, list[bool]]:
        signals = case.scored.signals
        labelled = signals.semantic >= threshold
        if words:
            labelled = labelled | (signals.lexical > 0)
        if not labelled.any():
            return case.pool.by_votes[:K], True, [False] * K
        picks = case.scored.order[:K]
        return picks, False, [bool(labelled[i]) for i in picks]

    return rule


def _library_rule(case: Case) -> tuple[list[int], bool, list[bool]]:
    """What digest.ranking answers today, through CandidatePool.rank."""
    ranked = case.pool.rank(interests=case.interests, limit=K)
    picks = [case.pool.index[r.arxiv_id] for r in ranked]
    return picks, any(r.fallback for r in ranked), [bool(r.matched) for r in ranked]


@dataclass
class Figures:
    labelled: int = 0
    labelled_relevant: int = 0
    labelled_clear: int = 0
    relevant_picks: int = 0
    relevant_labelled: int = 0
    digests: int = 0
    fallbacks: int = 0
    unmatched: int = 0  # digests with no pick labelled a match (fallbacks included)
    ndcg_sum: float = 0.0
    ndcg_n: int = 0

    def precision(self, clear: bool = False) -> float:
        hits = self.labelled_clear if clear else self.labelled_relevant
        return hits / self.labelled if self.labelled else 0.0

    def recall(self) -> float:
        return self.relevant_labelled / self.relevant_picks if self.relevant_picks else 0.0

    def f05(self) -> float:
        p, r = self.precision(), self.recall()
        return 1.25 * p * r / (0.25 * p + r) if p + r else 0.0

    def as_dict(self) -> dict[str, float]:
        return {
            "precision_g1": round(self.precision(), 3),
            "precision_g2": round(self.precision(clear=True), 3),
            "matches_per_digest": round(self.labelled / self.digests, 2) if self.digests else 0,
            "recall": round(self.recall(), 3),
            "fallback_rate": round(self.fallbacks / self.digests, 3) if self.digests else 0,
            "no_match_rate": round(self.unmatched / self.digests, 3) if self.digests else 0,
            "ndcg5": round(self.ndcg_sum / self.ndcg_n, 4) if self.ndcg_n else 0.0,
        }


def _measure(cases: list[Case], rule: Rule) -> Figures:
    figures = Figures()
    for case in cases:
        picks, fallback, labelled = rule(case)
        ids = [case.pool.ids[i] for i in picks]
        figures.digests += 1
        figures.fallbacks += fallback
        figures.unmatched += not any(labelled)
        for arxiv_id, is_match in zip(ids, labelled, strict=True):
            grade = case.grades.get(arxiv_id, 0)
            figures.relevant_picks += grade >= 1
            if is_match:
                figures.labelled += 1
                figures.labelled_relevant += grade >= 1
                figures.labelled_clear += grade >= 2
                figures.relevant_labelled += grade >= 1
        if case.grades:
            figures.ndcg_sum += ndcg_at_k(ids, case.grades, K)
            figures.ndcg_n += 1
    return figures


def _words_only(cases: list[Case], threshold: float) -> tuple[int, int]:
    """Top-5 picks holding an interests word but under the cosine threshold: (count, relevant)."""
    count = relevant = 0
    for case in cases:
        signals = case.scored.signals
        for i in case.scored.order[:K]:
            if signals.lexical[i] > 0 and signals.semantic[i] < threshold:
                count += 1
                relevant += case.grades.get(case.pool.ids[i], 0) >= 1
    return count, relevant


def _cases() -> list[Case]:
    data = json.loads((DATA / "profiles.json").read_text(encoding="utf-8"))
    days: dict[str, list[PaperRecord]] = {
        day: hf_api.parse((DATA / "days" / f"{day}.json").read_bytes()).records
        for day in data["days"]
    }
    everything = [paper for papers in days.values() for paper in papers]
    vectors = papers_embed(everything)  # loads the model, once
    cases: list[Case] = []
    start = 0
    for day, papers in days.items():
        pool = ranking.CandidatePool(papers, vectors[start : start + len(papers)])
        start += len(papers)
        day_ids = set(pool.ids)
        for profile in data["profiles"]:
            grades = {k: int(v) for k, v in profile["relevant"].items() if k in day_ids}
            scored = pool._scores_for(profile["interests"], None)
            cases.append(Case(day, profile["key"], profile["interests"], grades, pool, scored))
    return cases


def _line(name: str, figures: Figures) -> str:
    d = figures.as_dict()
    return (
        f"{name:<22} precision>=1 {d['precision_g1']:.3f}  >=2 {d['precision_g2']:.3f}  "
        f"matches/5 {d['matches_per_digest']:.2f}  recall {d['recall']:.3f}  "
        f"fallback {d['fallback_rate']:.3f}  no match {d['no_match_rate']:.3f}  "
        f"nDCG@5 {d['ndcg5']:.4f}"
    )


def main() -> None:
    cases = _cases()
    tuning = [c for c in cases if c.day not in HELD_OUT_DAYS]
    held_out = [c for c in cases if c.day in HELD_OUT_DAYS]
    print(f"{len(tuning)} tuning and {len(held_out)} held-out digests (profile x day), top {K}")

    print("\nsweep on the tuning days: match = cosine to the best facet >= t (meaning only)")
    chosen = None
    for threshold in SWEEP:
        figures = _measure(tuning, _semantic_rule(threshold, words=False))
        print(_line(f"t={threshold:.2f}", figures) + f"  F0.5 {figures.f05():.3f}")
        if chosen is None and figures.precision() >= TARGET_PRECISION:
            chosen = threshold
    print(f"lowest t with precision>=1 >= {TARGET_PRECISION} on the tuning days: {chosen}")

    current = ranking.MATCH_MIN_SIMILARITY
    result: dict[str, object] = {
        "match_min_similarity": current,
        "target_precision": TARGET_PRECISION,
        "sweep_lowest_reaching_target": chosen,
    }
    print("\ntop-5 picks with an interests word but a cosine under t (words alone), tuning days")
    for threshold in (OLD_MATCH_MIN_SIMILARITY, current):
        count, relevant = _words_only(tuning, threshold)
        share = relevant / count if count else 0.0
        print(f"t={threshold:.2f}: {count} picks, {relevant} relevant, precision {share:.3f}")
        result[f"words_only_precision_t{threshold:.2f}"] = round(share, 3)
    rules: dict[str, Rule] = {
        "before": _semantic_rule(OLD_MATCH_MIN_SIMILARITY, words=True),
        "after": _library_rule,
    }
    for split, subset in (("tuning", tuning), ("held_out", held_out)):
        print(f"\n{split} days")
        for name, rule in rules.items():
            figures = _measure(subset, rule)
            print(_line(name, figures))
            result[f"{name}_{split}"] = figures.as_dict()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
