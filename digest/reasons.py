"""How the reason beside a picked paper is worded, where it is not a match (see digest.ranking).

Plain Python with no imports: the ranking, the public digest's selectors and the email all word
reasons the same way, and none of them should pull the others in for it.
"""

from __future__ import annotations

# A paper says "trending: N upvotes" only from here: about the lowest quarter of a real day's
# Daily Papers (25th percentile 9-10 votes, median 16, in tests/fixtures/hf_daily_papers), so
# fewer is not trending. Under it the reason is only what is true of every candidate.
TRENDING_MIN_UPVOTES = 10
NEW_TODAY_REASON = "new today"
# The reason of a paper the editors pinned: every reader of the issue gets it, first.
PIN_REASON = "editor's pick"


def trending_reason(upvotes: int) -> str:
    """A paper's votes when they are worth saying, else only that it is one of today's papers."""
    if upvotes < TRENDING_MIN_UPVOTES:
        return NEW_TODAY_REASON
    return f"trending: {upvotes} upvotes"
