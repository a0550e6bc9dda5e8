"""arXiv's daily announcement feeds (rss.arxiv.org/rss/<cats> and /atom/<cats>): fetch, parse.

Both flavours carry the same data: one item per announced paper, with the announce type
(`new`, `cross`, `replace`, `replace-cross`). All are kept, since the ingest merges by arXiv id,
but the feed's date (the announcement day) is kept as the paper's published date only when that
day is the paper's first appearance (see `_first_appearance`); otherwise it is left unknown.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import re
import unicodedata
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING
from xml.etree.ElementTree import Element

from papers.sources.arxiv_api import ARXIV, ATOM, MAX_JOURNAL_REF, parse_xml
from papers.sources.records import PaperRecord, ParseError, ParseResult
from papers.sources.text import arxiv_id_normalize, clean_text, clean_text_capped, parse_datetime

if TYPE_CHECKING:
    from papers.sources.http import Fetched, HttpClient

FEED_URL = "https://rss.arxiv.org/{flavour}/{categories}"
FLAVOURS = ("rss", "atom")
SOURCE = "arxiv-rss"

DC = "{http://purl.org/dc/elements/1.1/}"
# "arXiv:2411.17700v1 Announce Type: new \nAbstract: The abstract..." -> "The abstract..."
_ANNOUNCE_PREFIX = re.compile(
    r"^\s*arXiv:\S+\s+Announce Type:\s*\S+\s*(?:Abstract:\s*)?", re.IGNORECASE
)
_ANNOUNCE_ID = re.compile(r"^\s*arXiv:(\S+)", re.IGNORECASE)
# Name suffixes that arXiv sometimes writes after a comma ("Kenneth M. Merz, Jr.").
_SUFFIXES = {"jr", "jr.", "sr", "sr.", "ii", "iii", "iv"}
_DATED_TYPES = {"new", "cross"}
# The month a paper was submitted, from its id: "2205.06398" (YYMM.NNNNN) or "hep-th/9901001".
_NEW_ID_MONTH = re.compile(r"^(\d{2})(\d{2})\.\d{4,5}$")
_OLD_ID_MONTH = re.compile(r"/(\d{2})(\d{2})\d{3}$")

# The feeds write accented names in TeX (Andr\'es, S{\o}gaard, \v{S}timac); the API and HF write
# Unicode. Names are decoded so that one person reads the same whatever the source.
_TEX_LETTERS = {
    **{
        "ss": "ß",
        "ae": "æ",
        "AE": "Æ",
        "oe": "œ",
        "OE": "Œ",
        "aa": "å",
        "AA": "Å",
        "o": "ø",
        "O": "Ø",
    },
    **{
        "l": "ł",
        "L": "Ł",
        "i": "ı",
        "j": "ȷ",
    },  # dotless i/j (Kad{\i}o\u{g}lu): dotted again under an accent
}
_TEX_SYMBOL_ACCENTS = {
    "'": "\u0301",
    "`": "\u0300",
    "^": "\u0302",
    '"': "\u0308",
    "~": "\u0303",
    "=": "\u0304",
    ".": "\u0307",
}
_TEX_WORD_ACCENTS = {
    **{"u": "\u0306", "v": "\u030c", "H": "\u030b", "c": "\u0327"},
    **{"k": "\u0328", "r": "\u030a", "d": "\u0323", "b": "\u0331"},
}
_TEX_LETTER = re.compile(r"\\(ss|ae|AE|oe|OE|aa|AA|o|O|l|L|i|j)(?![a-zA-Z])")
_TEX_SYMBOL_ACCENT = re.compile(r"\\([`'^\"~=.])\s*(?:\{\s*([a-zA-Zıȷ])\s*\}|([a-zA-Zıȷ]))")
_DOTLESS_ACCENTED = re.compile("[ıȷ](?=[\u0300-\u036f])")
_TEX_WORD_ACCENT = re.compile(r"\\([uvHckrdb])(?:\s*\{\s*([a-zA-Zıȷ])\s*\}|\s+([a-zA-Zıȷ]))")


def parse(raw: bytes) -> ParseResult:
    """Every item of an arXiv RSS 2.0 or Atom announcement feed; an error feed is a ParseError."""
    root = parse_xml(raw)
    items: Iterator[Element]
    to_record: Callable[[Element], PaperRecord | str]
    if root.tag == "rss":
        channel = root.find("channel")
        if channel is None:
            raise ParseError("RSS feed without a <channel>")
        _raise_on_error_feed(channel.findtext("title"), channel.findtext("description"))
        items, to_record = channel.iterfind("item"), _rss_record
    elif root.tag == f"{ATOM}feed":
        _raise_on_error_feed(root.findtext(f"{ATOM}title"), root.findtext(f"{ATOM}subtitle"))
        items, to_record = root.iterfind(f"{ATOM}entry"), _atom_record
    else:
        raise ParseError(f"not an RSS or Atom feed: root element is {root.tag!r}")
    result = ParseResult()
    for index, item in enumerate(items):
        record = to_record(item)
        if isinstance(record, str):
            result.skipped.append(f"item {index}: {record}")
        else:
            result.records.append(record)
    return result


def _raise_on_error_feed(title: str | None, description: str | None) -> None:
    # A bad archive name still answers a well-formed feed: the title says "Feed error for query: …"
    # and the description says what was wrong. A quiet day is a normal channel with no items.
    if clean_text(title).lower().startswith("feed error"):
        raise ParseError(f"arXiv RSS error: {clean_text(description) or clean_text(title)}")


def _rss_record(item: Element) -> PaperRecord | str:
    description = item.findtext("description") or ""
    arxiv_id = _first_valid_id(
        item.findtext("guid"), item.findtext("link"), _announced_id(description)
    )
    categories = tuple(clean_text(category.text) for category in item.iterfind("category"))
    published = _parse_rfc822(item.findtext("pubDate"))
    return _item_record(
        item, arxiv_id=arxiv_id, description=description, categories=categories, published=published
    )


def _atom_record(entry: Element) -> PaperRecord | str:
    description = entry.findtext(f"{ATOM}summary") or ""
    link = entry.find(f"{ATOM}link")
    arxiv_id = _first_valid_id(
        entry.findtext(f"{ATOM}id"),
        link.get("href") if link is not None else None,
        _announced_id(description),
    )
    categories = tuple(
        clean_text(category.get("term")) for category in entry.iterfind(f"{ATOM}category")
    )
    published = parse_datetime(entry.findtext(f"{ATOM}published"))
    return _item_record(
        entry,
        arxiv_id=arxiv_id,
        description=description,
        categories=categories,
        published=published,
    )


def _item_record(
    item: Element,
    *,
    arxiv_id: str | None,
    description: str,
    categories: tuple[str, ...],
    published: dt.datetime | None,
) -> PaperRecord | str:
    """The record of either flavour's item (same title and dc:creator), or why it was skipped."""
    title = clean_text(item.findtext("title") or item.findtext(f"{ATOM}title"))
    if arxiv_id is None:
        return f"no valid arXiv id (title {title[:80]!r})"
    if not title:
        return f"{arxiv_id}: no title"
    announce_type = clean_text(item.findtext(f"{ARXIV}announce_type")).lower()
    return PaperRecord(
        arxiv_id=arxiv_id,
        title=title,
        source=SOURCE,
        abstract=clean_text(_ANNOUNCE_PREFIX.sub("", description, count=1)),
        authors=split_authors(item.findtext(f"{DC}creator")),
        published_at=_first_appearance(arxiv_id, announce_type=announce_type, announced=published),
        # The feeds list the primary category first, then the cross-lists.
        categories=tuple(dict.fromkeys(category for category in categories if category)),
        announce_type=announce_type,
        journal_ref=clean_text_capped(
            item.findtext(f"{ARXIV}journal_reference"), limit=MAX_JOURNAL_REF
        ),
    )


def _first_appearance(
    arxiv_id: str, *, announce_type: str, announced: dt.datetime | None
) -> dt.datetime | None:
    """The announcement day if it is the day the paper first appeared, else None (unknown).

    Every item carries the feed's day. That is the paper's own day only for a `new` item, or
    for a `cross` item of a paper that is new that day in another archive. A `replace` or
    `replace-cross` item announces a later version of a paper that appeared earlier, and a
    `cross` item can also list an old paper in one more category (2205.06398v2, posted in May
    2022, came as a cross on 24 Sep 2026). An id encodes the month the paper was submitted, and
    a new paper is announced in that month or the next: an older id means an old paper.
    """
    if announced is None or announce_type not in _DATED_TYPES:
        return None
    submitted = _id_month(arxiv_id)
    previous_month = (announced.replace(day=1) - dt.timedelta(days=1)).date()
    if submitted is not None and submitted < (previous_month.year, previous_month.month):
        return None
    return announced


def _id_month(arxiv_id: str) -> tuple[int, int] | None:
    """(year, month) the paper was submitted, read from its id; None if the id does not say."""
    match = _NEW_ID_MONTH.match(arxiv_id) or _OLD_ID_MONTH.search(arxiv_id)
    if match is None:
        return None
    year = int(match[1])
    # Old-style ids run from 1991 (91xx) to March 2007 (0703); new-style ones from 0704.
    return (1900 + year if year >= 91 else 2000 + year), int(match[2])


def _first_valid_id(*candidates: str | None) -> str | None:
    for candidate in candidates:
        if arxiv_id := arxiv_id_normalize(clean_text(candidate)):
            return arxiv_id
    return None


def _announced_id(description: str) -> str | None:
    match = _ANNOUNCE_ID.match(description)
    return match[1] if match else None


def _parse_rfc822(value: str | None) -> dt.datetime | None:
    """An aware UTC datetime of an RSS date ("Thu, 28 Nov 2024 00:00:00 -0500"); None if invalid."""
    if not value or not value.strip():
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError):
        return None
    return parsed.replace(tzinfo=dt.UTC) if parsed.tzinfo is None else parsed.astimezone(dt.UTC)


def split_authors(value: str | None) -> tuple[str, ...]:
    """The names in a dc:creator ("A, B and C"), in order, without the affiliations in parentheses.

    Commas inside parentheses belong to an affiliation ("Jiri Smetana (University of
    Birmingham, School of Physics …)"), and a lone suffix after a comma ("Merz, Jr.") belongs
    to the name before.
    """
    names: list[str] = []
    for part in _top_level_parts(clean_text(value)):
        name = clean_text(_tex_to_unicode(_strip_affiliations(part)))
        if not name:
            continue
        if names and name.lower() in _SUFFIXES:
            names[-1] = f"{names[-1]}, {name}"
        else:
            names.append(name)
    return tuple(names)


def _top_level_parts(text: str) -> list[str]:
    """Split at top-level commas and " and " ("Andrew and Peggy Cherng Dept." stays whole)."""
    parts: list[str] = []
    depth = start = index = 0
    while index < len(text):
        char = text[index]
        if char == "(":
            depth += 1
        elif char == ")":
            depth = max(depth - 1, 0)
        elif depth == 0 and char == ",":
            parts.append(text[start:index])
            start = index + 1
        elif depth == 0 and text.startswith(" and ", index):
            parts.append(text[start:index])
            index += len(" and ")
            start = index
            continue
        index += 1
    parts.append(text[start:])
    return parts


def _strip_affiliations(name: str) -> str:
    # Nested parentheses ("(Dept. (Physics), Univ.)") are removed innermost first.
    previous = None
    while previous != name:
        previous, name = name, re.sub(r"\s*\([^()]*\)", "", name)
    return name


def _tex_to_unicode(name: str) -> str:
    """A name with its TeX accents as Unicode ("Andr\\'es" -> "Andrés"), other text as it is."""
    if "\\" not in name:
        return name
    name = _TEX_LETTER.sub(lambda m: _TEX_LETTERS[m[1]], name)
    name = _TEX_SYMBOL_ACCENT.sub(lambda m: (m[2] or m[3]) + _TEX_SYMBOL_ACCENTS[m[1]], name)
    name = _TEX_WORD_ACCENT.sub(lambda m: (m[2] or m[3]) + _TEX_WORD_ACCENTS[m[1]], name)
    name = _DOTLESS_ACCENTED.sub(lambda m: {"ı": "i", "ȷ": "j"}[m[0]], name)
    return unicodedata.normalize("NFC", name.replace("{", "").replace("}", ""))


def fetch(client: HttpClient, *, categories: list[str], flavour: str = "rss") -> list[Fetched]:
    """Today's announcement feed for the categories, in one GET ([] if unchanged since ingested)."""
    if flavour not in FLAVOURS:
        raise ValueError(f"flavour must be one of {FLAVOURS}, not {flavour!r}")
    names = [category.strip() for category in categories if category.strip()]
    if not names:
        raise ValueError("an arXiv feed fetch needs at least one category")
    fetched = client.get(FEED_URL.format(flavour=flavour, categories="+".join(names)))
    return [fetched] if fetched is not None else []
