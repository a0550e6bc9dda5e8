"""Search queries as readers type them, read the way PostgreSQL's websearch_to_tsquery reads them.

Pure functions, no database: `search_terms_parse` splits a query into words and "quoted
phrases", -exclusions and OR; `search_terms_fts5` writes them as an SQLite FTS5 query in
which every term is an FTS5 string, so nothing a reader types (NEAR, *, ^, column:, AND,
stray quotes) is ever FTS5 syntax; `search_authors_matched` says which names a query hit.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# A term: an optional "-", then a "quoted phrase" (an unclosed quote runs to the end, as in
# websearch_to_tsquery) or a run of anything but spaces and quotes.
_TERM = re.compile(r'(?P<minus>-?)(?:"(?P<phrase>[^"]*)"?|(?P<word>[^\s"]+))')
_TOKEN = re.compile(r"[^\W_]+")
# More terms than this add nothing a reader means, only work for the index.
MAX_TERMS = 32
# PostgreSQL's 'english' stop words (tsearch_data/english.stop): a query there ignores them,
# so they are dropped here too and both databases find the same papers.
_STOP_WORDS = """
    i me my myself we our ours ourselves you your yours yourself yourselves he him his himself
    she her hers herself it its itself they them their theirs themselves what which who whom
    this that these those am is are was were be been being have has had having do does did
    doing a an the and but if or because as until while of at by for with about against between
    into through during before after above below to from up down in out on off over under again
    further then once here there when where why how all any both each few more most other some
    such no nor not only own same so than too very s t can will just don should now
"""
STOP_WORDS = frozenset(_STOP_WORDS.split())


@dataclass(frozen=True)
class SearchTerm:
    """A word or phrase of a query; `excluded` when it was written -word or -"a phrase"."""

    text: str
    excluded: bool = False


# A query is an OR of groups, a group an AND of its terms: `a b or c` is (a AND b) OR c, as
# websearch_to_tsquery makes it 'a' & 'b' | 'c'.
SearchTerms = tuple[tuple[SearchTerm, ...], ...]


def _tokens(text: str) -> list[str]:
    """The words of `text` as the FTS5 unicode61 tokenizer sees them: letters and digits, folded."""
    return _TOKEN.findall(unicodedata.normalize("NFC", text).casefold())


def search_terms_parse(query: str) -> SearchTerms:
    """The query's OR-groups of terms, less those of stop words only or with no letter or digit."""
    groups: list[list[SearchTerm]] = [[]]
    count = 0
    # FTS5 reads its query as a C string: a NUL would end it inside a quoted term.
    for found in _TERM.finditer(query.replace("\x00", " ")):
        phrase, word = found["phrase"], found["word"]
        if word is not None and word.casefold() == "or" and not found["minus"]:
            groups.append([])
            continue
        text = phrase if phrase is not None else word
        tokens = _tokens(text)
        if count >= MAX_TERMS or all(token in STOP_WORDS for token in tokens):
            continue  # all() of no tokens (`-`, `&&`) is true too
        count += 1
        groups[-1].append(SearchTerm(text=text, excluded=bool(found["minus"])))
    # A group of exclusions alone cannot be said in FTS5 (its NOT needs a left side): dropped.
    return tuple(tuple(group) for group in groups if any(not t.excluded for t in group))


def _fts5_string(text: str) -> str:
    """An FTS5 string: the tokenizer splits it into a phrase; no character in it is an operator."""
    return '"' + text.replace('"', '""') + '"'


def _fts5_group(group: tuple[SearchTerm, ...]) -> str:
    included = " AND ".join(_fts5_string(t.text) for t in group if not t.excluded)
    excluded = " OR ".join(_fts5_string(t.text) for t in group if t.excluded)
    return f"({included}) NOT ({excluded})" if excluded else included


def search_terms_fts5(terms: SearchTerms, *, column: str | None = None) -> str:
    """The FTS5 MATCH expression for the terms, over one column only when `column` is given."""
    expression = " OR ".join(f"({_fts5_group(group)})" for group in terms)
    return f"{{{column}}} : ({expression})" if column else expression


def search_authors_matched(*, query: str, authors: list[str]) -> list[str]:
    """The authors whose name contains one of the query's words or phrases (not an excluded one).

    Word for word, ignoring case and never stemming: a name is not an English word.
    """
    wanted = [
        _tokens(term.text)
        for group in search_terms_parse(query)
        for term in group
        if not term.excluded
    ]
    matched = []
    for name in authors:
        tokens = _tokens(str(name))
        if any(_contains(tokens, phrase) for phrase in wanted):
            matched.append(name)
    return matched


def _contains(tokens: list[str], phrase: list[str]) -> bool:
    """Whether `phrase` occurs in `tokens` as consecutive tokens."""
    width = len(phrase)
    return any(tokens[i : i + width] == phrase for i in range(len(tokens) - width + 1))
