"""The short summary of a paper that cards, the paper page and the digest email all show.

One rule everywhere: the AI summary when there is one, else the abstract cut at a sentence end
within the cap. Pure functions, no Django, so they are testable on strings alone.
"""

from __future__ import annotations

import re
from typing import Protocol

# Cards and emails show the same text (HF's AI summaries are all under this, about 110-300).
SUMMARY_MAX_CHARS = 300
# Whole sentences must fill at least this share of the cap, or a long second sentence would
# leave a one-line summary next to a five-line one: then the text is cut on a word instead.
_MIN_FILL = 0.5
ELLIPSIS = "…"

# A full stop, question or exclamation mark (with closing quotes or brackets) before a space or
# the end; a decimal point ("3.5") or a dotted name ("Kandinsky-5.0-Lite") has no space after it.
_SENTENCE_END = re.compile(r"[.!?][\"'”’)\]]*(?=\s|$)")
# Words whose full stop ends no sentence (compared in lower case, leading brackets dropped).
# "etc." is not among them: before a capital it ends a sentence ("…, etc. However, …").
_ABBREVIATIONS = frozenset(
    {
        "e.g.",
        "i.e.",
        "al.",
        "cf.",
        "vs.",
        "viz.",
        "approx.",
        "resp.",
        "fig.",
        "figs.",
        "eq.",
        "eqs.",
        "sec.",
        "tab.",
        "ref.",
        "refs.",
        "no.",
        "dr.",
        "prof.",
        "mr.",
        "ms.",
        "st.",
    }
)
_TRAILING_PUNCTUATION = " ,;:.-–—([{"


class Summarized(Protocol):
    """What a summary is made of: a Paper, or anything with the same two text fields."""

    ai_summary: str
    abstract: str


def summary_text(*, paper: Summarized, max_chars: int = SUMMARY_MAX_CHARS) -> str:
    """The AI summary when present, else the abstract; at most `max_chars`, cut on a sentence end.

    Text that fits is returned whole, on one line. Longer text keeps its whole sentences that fit,
    ending on their full stop; when they would be too short (or there is no sentence end in
    reach) it is cut on a word and ends with "…". Never mid-word, and no "…" on uncut text.
    """
    text = " ".join((paper.ai_summary or "").split()) or " ".join((paper.abstract or "").split())
    return text_shorten(text=text, max_chars=max_chars)


def text_shorten(*, text: str, max_chars: int) -> str:
    """`text` if it fits in `max_chars`, else its whole sentences that do, else a word cut."""
    text = " ".join(text.split())
    if len(text) <= max_chars:
        return text
    end = _last_sentence_end(text, max_chars)
    if end >= max_chars * _MIN_FILL:
        return text[:end]
    return _word_cut(text, max_chars)


def _last_sentence_end(text: str, max_chars: int) -> int:
    """The index just past the last sentence end within the first `max_chars` characters, or 0."""
    last = 0
    # Over the whole text: a bound would let "$" match mid-number ("3." of "3.5" at the cap).
    for match in _SENTENCE_END.finditer(text):
        if match.end() > max_chars:
            break
        if _ends_sentence(text, match):
            last = match.end()
    return last


def _ends_sentence(text: str, match: re.Match[str]) -> bool:
    rest = text[match.end() :].lstrip()
    if rest and rest[0].islower():  # "e.g. achieving", "et al. showed": the sentence goes on
        return False
    word = text[: match.end()].rsplit(" ", 1)[-1].lstrip("([{\"'“‘").lower()
    word = word.rstrip("\"'”’)]")
    if word in _ABBREVIATIONS:
        return False
    # An initial ("J. Smith") or a lone letter ("Model B. The…" is rare beside "A. Turing").
    return not (len(word) == 2 and word[0].isalpha() and word[1] == ".")


def _word_cut(text: str, max_chars: int) -> str:
    """The longest run of whole words that fits with "…" after it (a hard cut for one long word)."""
    room = max_chars - len(ELLIPSIS)
    cut = text[:room]
    if " " in cut and not text[room].isspace():
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(_TRAILING_PUNCTUATION) + ELLIPSIS
