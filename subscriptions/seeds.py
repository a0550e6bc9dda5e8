"""Reading what a reader gives as examples ("papers like these"): pasted ids, BibTeX, an author.

Pure functions, no database: each turns untrusted input into SeedInput values or raises
SeedError, whose message is shown to the reader as it is. Every input is capped before it is
parsed, so a huge paste or a hostile file is refused at once rather than worked through.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

import bibtexparser
from bibtexparser.model import Entry
from pylatexenc.latex2text import LatexNodes2Text

from papers.sources.text import arxiv_id_normalize, clean_text

SEEDS_MAX = 100  # seeds a reader may keep in all (the service checks the total)
IDS_MAX_CHARS = 20_000
IDS_MAX_ITEMS = 500
BIBTEX_MAX_BYTES = 2 * 1024 * 1024
BIBTEX_MAX_ENTRIES = 2_000
# Real exports nest braces a handful deep ({\"{u}} in a title); hundreds deep is an attack on
# the parser's recursion, not a bibliography.
BIBTEX_MAX_DEPTH = 24
TITLE_MAX_CHARS = 500  # Seed.title's max_length
ABSTRACT_MAX_CHARS = 5_000
AUTHOR_MIN_CHARS, AUTHOR_MAX_CHARS = 2, 100
BAD_ITEMS_SHOWN = 3


class SeedError(ValueError):
    """Input that cannot be used as seeds; its message is for the reader."""


@dataclass(frozen=True)
class SeedInput:
    """One example paper: an arXiv id (versionless), or a title and abstract used as text."""

    arxiv_id: str = ""
    title: str = ""
    abstract: str = ""


@dataclass(frozen=True)
class BibtexResult:
    """The seeds a BibTeX file gave, and how many entries had neither an id nor an abstract."""

    seeds: list[SeedInput] = field(default_factory=list)
    skipped: int = 0


# --- arXiv ids and links --------------------------------------------------------------------

_SEPARATORS = re.compile(r"[\s,;]+")
# "arXiv: 2401.01234" is one id written with a space after the colon.
_ARXIV_COLON_SPACE = re.compile(r"\barxiv:\s+", re.IGNORECASE)
_LINK = re.compile(
    r"^(?:https?://)?(?:www\.|export\.)?"
    r"(?:arxiv\.org/(?:abs|pdf|html)|(?:huggingface|hf)\.co/papers|alphaxiv\.org/abs)/(?P<rest>.+)$",
    re.IGNORECASE,
)
_WRAPPING = "<>()[]{}\"'“”‘’"


def arxiv_id_from_item(item: str) -> str | None:
    """The versionless arXiv id of one id, `arXiv:` id or arXiv / Hugging Face link, else None."""
    value = item.strip().strip(_WRAPPING + ".")
    if match := _LINK.match(value):
        value = re.split(r"[?#]", match["rest"], maxsplit=1)[0].rstrip("/")
    return arxiv_id_normalize(value)


def ids_parse(text: str) -> list[str]:
    """The arXiv ids in pasted text (ids or links, any separator), versionless, in order, once."""
    if len(text) > IDS_MAX_CHARS:
        raise SeedError(
            f"That is too much to paste at once ({len(text):,} characters): paste at most "
            f"{IDS_MAX_ITEMS} ids or links ({IDS_MAX_CHARS:,} characters) at a time."
        )
    items = [item for item in _SEPARATORS.split(_ARXIV_COLON_SPACE.sub("arXiv:", text)) if item]
    if not items:
        raise SeedError("Paste at least one arXiv id or link, e.g. 2401.01234.")
    if len(items) > IDS_MAX_ITEMS:
        raise SeedError(
            f"That is {len(items):,} items: paste at most {IDS_MAX_ITEMS} ids or links at a time."
        )
    ids: dict[str, None] = {}
    bad: list[str] = []
    for item in items:
        arxiv_id = arxiv_id_from_item(item)
        if arxiv_id is None:
            bad.append(item)
        else:
            ids.setdefault(arxiv_id)
    if bad:
        raise SeedError(_bad_items_message(bad))
    return list(ids)


def _bad_items_message(bad: list[str]) -> str:
    shown = ", ".join(repr(_shorten(item)) for item in bad[:BAD_ITEMS_SHOWN])
    more = f" and {len(bad) - BAD_ITEMS_SHOWN} more" if len(bad) > BAD_ITEMS_SHOWN else ""
    return (
        f"Not an arXiv id or link: {shown}{more}. Use ids like 2401.01234 or hep-th/9901001, "
        "or links to arxiv.org or huggingface.co/papers."
    )


def _shorten(item: str, limit: int = 40) -> str:
    printable = "".join(ch if ch.isprintable() else "?" for ch in item)
    return printable if len(printable) <= limit else printable[: limit - 1] + "…"


# --- BibTeX ---------------------------------------------------------------------------------

_ENTRY_START = re.compile(r"@\s*[A-Za-z]+\s*[{(]")
_BRACE = re.compile(r"(?<!\\)[{}]")
_DOI_ARXIV = re.compile(r"10\.48550/arxiv\.(?P<id>\S+)", re.IGNORECASE)
# Google Scholar writes `journal={arXiv preprint arXiv:2401.01234}`, Zotero `note={arXiv:… [cs]}`.
_ARXIV_MENTION = re.compile(r"arxiv:\s*(?P<id>[\w./-]+)", re.IGNORECASE)
_MENTION_FIELDS = ("journal", "note", "howpublished", "journaltitle")
# Citations and cross-references say nothing of the paper's subject.
_CITATION = re.compile(r"\s*~?\\(?:cite[a-z]*|ref|eqref|label)\*?(?:\[[^\]]*\])*\{[^{}]*\}")
_LATEX = LatexNodes2Text(math_mode="verbatim", strict_latex_spaces=True)


def bibtex_parse(data: bytes) -> BibtexResult:
    """The seeds of a BibTeX export (Zotero, Mendeley, Google Scholar): ids, else title+abstract.

    An entry's arXiv id comes from its eprint, its URL, its arXiv DOI or an "arXiv:" mention;
    an entry without one but with a title and an abstract is a text seed; any other is skipped
    and counted. A file that is not UTF-8 text, too large, too deeply nested, without a usable
    entry or with more than SEEDS_MAX of them is refused with SeedError.
    """
    text = _bibtex_text(data)
    library = _bibtex_library(text)
    entries = library.entries
    if not entries:
        raise SeedError("No BibTeX entries were found in this file.")
    if len(entries) > BIBTEX_MAX_ENTRIES:
        raise SeedError(_too_many_entries(len(entries)))
    usable, skipped = _usable_entries(entries)
    if len(usable) > SEEDS_MAX:
        # Refused before any LaTeX is decoded: that is the slow part, and the reader could not
        # keep them all anyway.
        raise SeedError(
            f"This file has {len(usable):,} usable entries: you can keep at most {SEEDS_MAX} "
            "example papers. Export a smaller collection (a Zotero collection or a tag)."
        )
    seeds: dict[str, SeedInput] = {}
    for fields, arxiv_id in usable:
        seed = _entry_seed(fields, arxiv_id)
        if seed is None:
            skipped += 1
        else:
            seeds.setdefault(seed.arxiv_id or f"title:{seed.title.casefold()}", seed)
    if not seeds:
        raise SeedError(
            f"None of the {len(entries)} entries in this file has an arXiv id, "
            "or a title and an abstract: there is nothing to learn from."
        )
    return BibtexResult(seeds=list(seeds.values()), skipped=skipped + len(library.failed_blocks))


def _usable_entries(entries: list[Entry]) -> tuple[list[tuple[dict[str, str], str | None]], int]:
    """(fields, arXiv id or None) of each entry that can be a seed, one per id; and the others."""
    usable: list[tuple[dict[str, str], str | None]] = []
    ids: set[str] = set()
    skipped = 0
    for entry in entries:
        fields = _fields(entry)
        arxiv_id = _entry_arxiv_id(fields)
        if arxiv_id is not None:
            if arxiv_id not in ids:
                ids.add(arxiv_id)
                usable.append((fields, arxiv_id))
        elif fields.get("title", "").strip() and fields.get("abstract", "").strip():
            usable.append((fields, None))
        else:
            skipped += 1
    return usable, skipped


def _bibtex_text(data: bytes) -> str:
    """The file as text, once it passed the checks that need no parsing: size, encoding, nesting."""
    if len(data) > BIBTEX_MAX_BYTES:
        raise SeedError(
            f"This file is too large ({len(data) / 1024 / 1024:.1f} MB): the limit is "
            f"{BIBTEX_MAX_BYTES // 1024 // 1024} MB. Export only the papers you want to use."
        )
    if not data.strip():
        raise SeedError("This file is empty.")
    if b"\x00" in data:
        raise SeedError("This is not a BibTeX file: it looks like binary data.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SeedError(
            "This file is not UTF-8 text. Export it again as BibTeX with the UTF-8 encoding."
        ) from None
    if any(unicodedata.category(ch) == "Cc" and ch not in "\t\n\r\f" for ch in text):
        raise SeedError("This is not a BibTeX file: it contains control characters.")
    if len(_ENTRY_START.findall(text)) > BIBTEX_MAX_ENTRIES:
        raise SeedError(_too_many_entries(len(_ENTRY_START.findall(text))))
    if _brace_depth(text) > BIBTEX_MAX_DEPTH:
        raise SeedError(
            f"This file nests braces more than {BIBTEX_MAX_DEPTH} deep: it cannot be read as "
            "BibTeX."
        )
    return text


def _too_many_entries(count: int) -> str:
    return (
        f"This file has {count:,} entries: the limit is {BIBTEX_MAX_ENTRIES:,}. "
        "Export only the papers you want to use."
    )


def _brace_depth(text: str) -> int:
    depth = deepest = 0
    for match in _BRACE.finditer(text):
        # An unbalanced "}" is the parser's business; it must not hide a deep nest after it.
        depth = depth + 1 if match.group() == "{" else max(depth - 1, 0)
        deepest = max(deepest, depth)
    return deepest


def _bibtex_library(text: str) -> bibtexparser.Library:
    try:
        return bibtexparser.parse_string(text)
    # The parser is a third-party library fed untrusted input: whatever it raises, the file
    # is unreadable, and the reader is told so rather than shown an error page.
    except Exception:  # noqa: BLE001
        raise SeedError("This file could not be read as BibTeX.") from None


def _fields(entry: Entry) -> dict[str, str]:
    """The entry's fields by lower-case name (the first of duplicates wins), as strings."""
    fields: dict[str, str] = {}
    for item in entry.fields:
        if isinstance(item.value, str):
            fields.setdefault(item.key.lower(), item.value)
    return fields


def _entry_seed(fields: dict[str, str], arxiv_id: str | None) -> SeedInput | None:
    title = _latex_text(fields.get("title", ""))[:TITLE_MAX_CHARS]
    if arxiv_id is not None:
        return SeedInput(arxiv_id=arxiv_id, title=title)
    abstract = _latex_text(fields.get("abstract", ""))[:ABSTRACT_MAX_CHARS]
    if title and abstract:
        return SeedInput(title=title, abstract=abstract)
    return None


def _entry_arxiv_id(fields: dict[str, str]) -> str | None:
    """The arXiv id an entry names: eprint, Mendeley's arxivid, URL, DOI, or an arXiv: mention."""
    prefix = (fields.get("archiveprefix") or fields.get("eprinttype") or "").strip().lower()
    candidates = [fields.get("arxivid", "")]
    if prefix in ("", "arxiv"):
        candidates.append(fields.get("eprint", ""))
    candidates.append(fields.get("url", ""))
    if match := _DOI_ARXIV.search(fields.get("doi", "")):
        candidates.append(match["id"])
    for name in _MENTION_FIELDS:
        if match := _ARXIV_MENTION.search(fields.get(name, "")):
            candidates.append(match["id"])
    for candidate in candidates:
        if candidate and (arxiv_id := arxiv_id_from_item(candidate)):
            return arxiv_id
    return None


def _latex_text(value: str) -> str:
    """Plain text of a BibTeX value: accents decoded, commands and braces dropped, math kept."""
    if "\\" not in value:  # no command: only braces and ties to drop (most exports)
        return clean_text(value.replace("{", "").replace("}", "").replace("~", " "))
    value = _CITATION.sub("", value)
    try:
        text = _LATEX.latex_to_text(value)
    # pylatexenc is tolerant, but it is fed untrusted text: fall back to dropping the markup.
    except Exception:  # noqa: BLE001
        text = re.sub(r"\\[A-Za-z]+\*?|[{}]", "", value)
    return clean_text(text)


# --- Authors and ORCID iDs ------------------------------------------------------------------

_ORCID = re.compile(
    r"^(?:https?://)?(?:www\.)?(?:orcid\.org/)?"
    r"(?P<digits>\d{4}-?\d{4}-?\d{4}-?\d{3}[\dX])/?$",
    re.IGNORECASE,
)
_LOOKS_LIKE_ORCID = re.compile(r"orcid|^\W*\d{4}-?\d{4}", re.IGNORECASE)
# Letters of any script, joined by single spaces, hyphens, apostrophes or dots: "J. R. R.
# Tolkien", "Jean-Pierre Serre", "O'Neil", "Adrian Del Maestro".
_NAME = re.compile(r"^[^\W\d_]+(?:(?:\. ?| |-|['’])[^\W\d_]+)*\.?$")


def orcid_checksum_valid(digits: str) -> bool:
    """ISO 7064 MOD 11-2 check of a 16-character ORCID iD (hyphens removed, last may be X)."""
    total = 0
    for digit in digits[:-1]:
        total = (total + int(digit)) * 2
    result = (12 - total % 11) % 11
    return digits[-1].upper() == ("X" if result == 10 else str(result))


def author_parse(text: str) -> tuple[str, str]:
    """("orcid", "0000-0002-1825-0097") for an ORCID iD or link, ("author", name) for a name."""
    value = " ".join(unicodedata.normalize("NFC", text).split())
    if not value:
        raise SeedError("Give an author's name (e.g. Adrian Del Maestro) or an ORCID iD.")
    if match := _ORCID.match(value):
        digits = match["digits"].replace("-", "").upper()
        if not orcid_checksum_valid(digits):
            raise SeedError(
                f"{_shorten(value)} is not a valid ORCID iD: its last character does not match "
                "(check for a typo)."
            )
        return "orcid", "-".join(digits[i : i + 4] for i in range(0, 16, 4))
    if _LOOKS_LIKE_ORCID.search(value):
        raise SeedError(
            f"{_shorten(value)!r} is not an ORCID iD: it has 16 digits in four groups, "
            "like 0000-0002-1825-0097."
        )
    if not AUTHOR_MIN_CHARS <= len(value) <= AUTHOR_MAX_CHARS:
        raise SeedError(
            f"An author's name has {AUTHOR_MIN_CHARS} to {AUTHOR_MAX_CHARS} characters."
        )
    if not _NAME.match(value):
        raise SeedError(
            f"{_shorten(value)!r} is not a name we can look up: use letters, spaces, hyphens, "
            "apostrophes and dots only, e.g. Adrian Del Maestro."
        )
    return "author", value
