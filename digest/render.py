"""The digest email, rendered once per issue and assembled per reader from its pieces.

Why: rendering templates and inlining CSS are the costly steps of building an email, and every
reader of an issue gets some of the same papers. Done once per issue instead of once per reader,
they leave only string concatenation to do for each reader of a batch.

issue_frame_build renders templates/emails/digest.{html,txt,subject.txt} once, for every paper a
reader may get, and inlines the CSS once over the whole HTML document. The rendered document
carries two kinds of markers, both made with a random nonce so that no scraped text can forge one
(and in the HTML, scraped text cannot even hold "<!--", being escaped):

- a section, `<!--pb:N:name-->...<!--/pb:N:name-->`: a piece some readers get and others do not
  (one per paper, the reader's opening line, the personal and the public top lines and footers),
  cut out after inlining;
- a slot, `<!--pb:N:@name-->`: where a section goes back in, in the reader's order;
- and inside sections, tokens `pbN<name>` for the per-reader values (reason, opening line, manage,
  signals and unsubscribe URLs, the "view in browser" URL, the paper's vote line and its two vote
  URLs), which escaping and inlining leave alone since they are plain alphanumerics.

The vote line ("More like this · Less like this") is a section of its own, rendered and inlined
once like the rest, and filled per reader and paper into the paper's `votes` token: the reader's
copy has one under every paper, the public copy none. The footer's "Your signals" link is one too,
nested in the footer where it is shown, so that it is inlined in its place: filled into the
footer's `signals_link` token when the reader's signals URL is given, left out otherwise.

"View in browser" leads each reader to their own web copy (with their vote links), so its URL is
a token too: the issue's public page when none is given (editors' previews and test sends).

IssueFrame.assemble then only concatenates strings and escapes the reader's values: no template,
no HTML parsing, no CSS work per reader.
"""

from __future__ import annotations

import datetime as dt
import html
import re
import secrets
import textwrap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import css_inline
from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.safestring import mark_safe

from digest.models import Issue, IssueKind
from papers.models import Paper
from papers.templatetags.papers_extras import external_url
from papers.text import SUMMARY_MAX_CHARS, summary_text

SUBJECT_TITLE_MAX_CHARS = 70
AUTHORS_SHOWN = 3
TEXT_WIDTH = 72
TOPIC_MAX_CHARS = 40
TOPICS_NAMED = 2
VENUE_MAX_CHARS = 120
# Where an arXiv comment says the paper is published: "Accepted at ICLR 2026", "To appear in …",
# "Published in the proceedings of CLEF 2026", "In Proceedings of the 30th ACM SIGSOFT …".
_VENUE = re.compile(
    r"\b(?:accepted|to appear|to be published|published|presented|in (?:the )?proceedings)\b",
    re.IGNORECASE,
)
_REFERENCE_IN = re.compile(r"^in(?::|\s+|(?=proceedings))", re.IGNORECASE)
# What ends that clause: a semicolon, the page count, or a full stop (see _venue_clause).
_CLAUSE_END = re.compile(r";|,\s*\d+\s+(?:pages?|figures?|tables?)\b|\.\s+", re.IGNORECASE)
_TOKENS = (
    "reason",
    "intro",
    "manage",
    "unsubscribe",
    "votes",
    "more",
    "less",
    "signals_link",
    "signals",
    "history",
    "view",
    # "Since you read it": the section's items, then one item's values. No name here may be the
    # start of another: the first alternative of the token pattern that matches wins.
    "code_items",
    "code_title",
    "code_url",
    "code_repo",
    "code_label",
    "code_stars",
)
_SLOTS = ("view", "intro", "papers", "notices", "footer")
_SECTIONS = (
    "view",
    "view_public",
    "intro",
    "empty",
    "footer",
    "footer_public",
    "votes",
    "signals",
    "notices",
    "notice",
)
# Stylesheets never come from the network; the @media rules (dark mode, phones) sit in a
# <style data-css-inline="keep"> block that the inliner leaves in place.
_INLINER = css_inline.CSSInliner(load_remote_stylesheets=False, minify_css=True)

Parts = tuple[str, ...]  # literal, slot name, literal, slot name, ..., literal


@dataclass(frozen=True)
class Pick:
    arxiv_id: str
    reason: str  # e.g. "matches: pose estimation", "trending: 212 upvotes", "editor's pick"
    matched: str = ""  # what of the reader's interests it matched; "" for pins and trending picks
    pinned: bool = False  # an editors' pick, which every reader gets
    example: str = ""  # the title of the paper the reader liked or gave that it is close to


@dataclass(frozen=True)
class CodeNotice:
    """ "Since you read it": a paper the reader was sent before, whose code is now out."""

    arxiv_id: str
    title: str
    url: str  # the paper's page on this site
    repo: str  # the repository's URL
    stars: int | None

    @property
    def repo_label(self) -> str:
        """The repository's address without its scheme: "github.com/org/repo"."""
        return self.repo.split("://", 1)[-1].rstrip("/")

    @property
    def stars_label(self) -> str:
        """ " · 1,234 stars", or "" when the count is unknown."""
        if self.stars is None:
            return ""
        return f" · {self.stars:,} star{'' if self.stars == 1 else 's'}"


@dataclass(frozen=True)
class EmailParts:
    subject: str  # one line
    text: str  # plain-text part
    html: str  # CSS already inlined


@dataclass(frozen=True)
class _CutDocument:
    """A rendered document cut into its skeleton and sections, each split at its slots or tokens."""

    skeleton: Parts
    sections: dict[str, Parts]


class IssueFrame:
    """An issue rendered once: header/footer frame and one fragment per paper, CSS inlined once."""

    def __init__(
        self,
        *,
        html_doc: _CutDocument,
        text_doc: _CutDocument,
        subjects: dict[str, str],
        index: dict[str, int],
        upvotes: dict[str, str],
        weekly: bool,
        view_url: str,
    ):
        self._html = html_doc
        self._text = text_doc
        self._subjects = subjects
        # arxiv id -> "45 upvotes", said in the text part unless the reason already says it
        self._upvotes = upvotes
        self._weekly = weekly
        self._view_url = view_url  # the issue's public page, when a reader's copy is not given
        # arxiv id -> the paper's (HTML, text) fragments, looked up once per pick
        self._papers = {
            arxiv_id: (html_doc.sections[f"paper-{n}"], text_doc.sections[f"paper-{n}"])
            for arxiv_id, n in index.items()
        }

    def assemble(
        self,
        *,
        picks: Sequence[Pick],
        fallback: bool,
        has_interests: bool,
        manage_url: str,
        unsubscribe_url: str,
        vote_urls: Mapping[str, tuple[str, str]] | None = None,
        signals_url: str = "",
        view_url: str | None = None,
        intro: str | None = None,
        history_url: str = "",
        notices: Sequence[CodeNotice] = (),
    ) -> EmailParts:
        """One reader's email: their opening line, their papers in their order, reasons, links.

        `fallback`: nothing matched the reader's interests, their papers are the most upvoted;
        `has_interests`: the reader wrote some (one who did not is never told nothing matched);
        `vote_urls`: each pick's ("More like this", "Less like this") URLs by arxiv id; None
        leaves the vote lines out. `signals_url`: the reader's "Your signals" page, linked in the
        footer with `history_url`, their "Your papers" page ("" leaves the links out).
        `notices`: the "Since you read it" items (papers sent before whose code is now out).
        `view_url`: where "View in browser" leads (None: the
        issue's public page; "": no such line, as on the reader's web copy itself). `intro`: the
        opening line, instead of the one said of the picks' reasons (a copy without reasons).
        """
        if intro is None:
            intro = intro_line(
                picks=picks, fallback=fallback, has_interests=has_interests, weekly=self._weekly
            )
        view = self._view_url if view_url is None else view_url
        html_values = {
            "intro": html.escape(intro),
            "manage": html.escape(manage_url),
            "unsubscribe": html.escape(unsubscribe_url),
            "view": html.escape(view),
        }
        text_values = {
            "intro": intro,
            "manage": manage_url,
            "unsubscribe": unsubscribe_url,
            "view": view,
        }
        html_values["signals_link"] = text_values["signals_link"] = ""
        if signals_url:
            history = history_url or signals_url
            html_values["signals_link"] = _section_fill(
                self._html.sections["signals"],
                {"signals": html.escape(signals_url), "history": html.escape(history)},
            )
            text_values["signals_link"] = _section_fill(
                self._text.sections["signals"], {"signals": signals_url, "history": history}
            )
        html_values["notices"] = self._notices_fill(self._html, notices, escape=html.escape)
        text_values["notices"] = self._notices_fill(self._text, notices, escape=str)
        return self._assemble(picks, html_values, text_values, public=False, vote_urls=vote_urls)

    @staticmethod
    def _notices_fill(
        doc: _CutDocument, notices: Sequence[CodeNotice], *, escape: Callable[[str], str]
    ) -> str:
        """The "Since you read it" section with its items, or "" when there are none."""
        if not notices:
            return ""
        items = "".join(
            _section_fill(
                doc.sections["notice"],
                {
                    "code_title": escape(" ".join(n.title.split())),
                    "code_url": escape(n.url),
                    "code_repo": escape(n.repo),
                    "code_label": escape(n.repo_label),
                    "code_stars": escape(n.stars_label),
                },
            )
            for n in notices
        )
        return _section_fill(doc.sections["notices"], {"code_items": items})

    @property
    def view_url(self) -> str:
        """The issue's public page."""
        return self._view_url

    def assemble_public(self, *, picks: Sequence[Pick]) -> EmailParts:
        """The non-personal version ("view in browser"): links to sign up and to past issues.

        No vote links: a vote belongs to a reader's delivery, and this copy is nobody's.
        """
        return self._assemble(picks, {}, {}, public=True, vote_urls=None)

    def _assemble(
        self,
        picks: Sequence[Pick],
        html_values: dict[str, str],
        text_values: dict[str, str],
        *,
        public: bool,
        vote_urls: Mapping[str, tuple[str, str]] | None,
    ) -> EmailParts:
        html_papers: list[str] = []
        text_papers: list[str] = []
        html_votes, text_votes = self._html.sections["votes"], self._text.sections["votes"]
        html_values["votes"] = text_values["votes"] = ""
        for pick in picks:
            fragments = self._papers.get(pick.arxiv_id)
            if fragments is None:
                raise ValueError(
                    f"pick {pick.arxiv_id!r} is not among the papers "
                    "this issue frame was built with"
                )
            html_values["reason"] = html.escape(pick.reason)
            text_values["reason"] = self._text_reason(pick)
            if vote_urls is not None:
                more, less = vote_urls[pick.arxiv_id]
                text_values["votes"] = _section_fill(text_votes, {"more": more, "less": less})
                html_values["votes"] = _section_fill(
                    html_votes, {"more": html.escape(more), "less": html.escape(less)}
                )
            _slots_fill_into(html_papers, fragments[0], html_values)
            _slots_fill_into(text_papers, fragments[1], text_values)
        return EmailParts(
            subject=self._subjects[_subject_pick(picks)],
            text=_document_assemble(self._text, text_papers, text_values, public=public),
            html=_document_assemble(self._html, html_papers, html_values, public=public),
        )

    def _text_reason(self, pick: Pick) -> str:
        """The reason on one line, with the votes unless it already gives them: each said once."""
        reason = " ".join(pick.reason.split())  # one line, whatever it holds
        upvotes = self._upvotes[pick.arxiv_id]
        return reason if upvotes in reason else f"{reason} · {upvotes}"


def _subject_pick(picks: Sequence[Pick]) -> str:
    """The pick the subject names: the reader's first own pick, else the first ("" for none)."""
    own = next((pick for pick in picks if not pick.pinned), None)
    if own is not None:
        return own.arxiv_id
    return picks[0].arxiv_id if picks else ""


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _topics(matched: Sequence[str]) -> str:
    """The distinct topics matched, the first two of them shortened: "A and B", "A, B and more"."""
    topics = [shorten(topic, TOPIC_MAX_CHARS) for topic in dict.fromkeys(matched)]
    if len(topics) > TOPICS_NAMED:
        return f"{', '.join(topics[:TOPICS_NAMED])} and more"
    return " and ".join(topics)


def intro_line(*, picks: Sequence[Pick], fallback: bool, has_interests: bool, weekly: bool) -> str:
    """The line the reader's email opens with: what their papers are, honestly ("" for none)."""
    if not picks:
        return ""
    span = "week" if weekly else "day"
    pins = sum(pick.pinned for pick in picks)
    own = [pick for pick in picks if not pick.pinned]
    plus = f", plus the editors' pick{'s' if pins > 1 else ''}" if pins else ""
    if not own:
        return f"The editors' pick{'s' if pins > 1 else ''} of the {span}."
    matched = [pick.matched for pick in own if pick.matched]
    learned = sum(bool(pick.example) for pick in own)
    if not has_interests:
        return f"{'This week' if weekly else 'Today'}'s top papers{plus}."
    if fallback:
        return (
            f"Nothing {_period_of(weekly)} matched your interests, "
            f"so here are the {span}'s most upvoted papers{plus}."
        )
    if learned:
        on = f"{len(matched)} on {_topics(matched)}, " if matched else ""
        return f"Your {_count(len(own), 'paper')}: {on}{learned} close to papers you chose{plus}."
    if not matched:
        # Ranked by closeness to the interests, but none close enough to be called a match.
        return (
            f"Nothing {_period_of(weekly)} matched your interests closely; "
            f"here are the {span}'s nearest papers{plus}."
        )
    if len(matched) == len(own):
        return _sentence(f"Your {_count(len(own), 'paper')} on {_topics(matched)}{plus}")
    return _sentence(
        f"Your {_count(len(own), 'paper')}, {len(matched)} of them on {_topics(matched)}{plus}"
    )


def _sentence(text: str) -> str:
    """The text with a full stop, unless it already ends on a cut topic's ellipsis ("LLM…")."""
    return text if text.endswith("…") else f"{text}."


def _document_assemble(
    doc: _CutDocument, papers: list[str], values: dict[str, str], *, public: bool
) -> str:
    """The whole document: the skeleton with the reader's sections in its slots."""
    footer: list[str] = []
    _slots_fill_into(footer, doc.sections["footer_public" if public else "footer"], values)
    intro: list[str] = []
    if not public and values["intro"]:
        _slots_fill_into(intro, doc.sections["intro"], values)
    if public:
        view = "".join(doc.sections["view_public"])
    else:
        view = _section_fill(doc.sections["view"], values) if values["view"] else ""
    slots = {
        "view": view,
        "intro": "".join(intro),
        "papers": "".join(papers) if papers else "".join(doc.sections["empty"]),
        "notices": "" if public else values.get("notices", ""),
        "footer": "".join(footer),
    }
    out: list[str] = []
    _slots_fill_into(out, doc.skeleton, slots)
    return "".join(out)


def _slots_fill_into(out: list[str], parts: Parts, values: Mapping[str, str]) -> None:
    """Append the literals of `parts` to `out`, with each slot's value between them."""
    out.append(parts[0])
    for i in range(1, len(parts), 2):
        out.append(values[parts[i]])
        out.append(parts[i + 1])


def _section_fill(parts: Parts, values: Mapping[str, str]) -> str:
    """`parts` with each slot's value in place, as one string."""
    out: list[str] = []
    _slots_fill_into(out, parts, values)
    return "".join(out)


class _NonceMarkers:
    """One build's markers and tokens, made with a nonce, and the cutting of documents at them."""

    def __init__(self) -> None:
        nonce = secrets.token_hex(8)
        self.prefix = f"<!--pb:{nonce}:"
        self.token = {name: f"pb{nonce}{name}" for name in _TOKENS}
        self._section = re.compile(
            rf"<!--pb:{nonce}:([\w-]+)-->(.*?)<!--/pb:{nonce}:\1-->", re.DOTALL
        )
        self._slot = re.compile(rf"<!--pb:{nonce}:@([\w-]+)-->")
        self._tokens = re.compile(rf"pb{nonce}({'|'.join(_TOKENS)})")

    # mark_safe: the markers are our own constant comments, with no outside text in them.
    def slot(self, name: str) -> str:
        return mark_safe(f"{self.prefix}@{name}-->")

    def open(self, name: str) -> str:
        return mark_safe(f"{self.prefix}{name}-->")

    def close(self, name: str) -> str:
        return mark_safe(f"<!--/{self.prefix[4:]}{name}-->")

    def cut(self, document: str, *, papers: int) -> _CutDocument:
        """The document's skeleton and sections; a template that lost a marker fails here.

        Failing here, when the issue is built, keeps a broken template out of every reader's inbox.
        """
        sections: dict[str, Parts] = {}

        def section_cut_out(match: re.Match[str]) -> str:
            # A section may hold another (the footer holds its signals link): cut that out too.
            body = self._section.sub(section_cut_out, match.group(2))
            sections[match.group(1)] = tuple(self._tokens.split(body))
            return ""

        skeleton = tuple(self._slot.split(self._section.sub(section_cut_out, document)))
        expected = {*_SECTIONS, *(f"paper-{n}" for n in range(papers))}
        if skeleton[1::2] != _SLOTS or set(sections) != expected:
            raise RuntimeError(
                f"the digest template's markers are broken: slots {skeleton[1::2]}, "
                f"sections {sorted(sections)}"
            )
        return _CutDocument(skeleton=skeleton, sections=sections)


def shorten(text: str, limit: int) -> str:
    """`text` on one line, cut at a word boundary before `limit` characters (ellipsis if cut)."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut and not text[limit - 1].isspace():
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:.-–—") + "…"


def authors_line(authors: Sequence[str]) -> str:
    """The first three names, then "et al." if there are more."""
    names = [" ".join(str(name).split()) for name in authors if str(name).strip()]
    shown = ", ".join(names[:AUTHORS_SHOWN])
    return f"{shown} et al." if len(names) > AUTHORS_SHOWN else shown


def venue_line(*, journal_ref: str, comment: str) -> str:
    """Where the paper is published, on one short line ("" when neither field says).

    The journal reference is arXiv's formal record of it; without one, the authors' comment
    often says so ("Accepted at …"), among page counts and code links that are left out.
    """
    # Some references start with their own "In" ("In Proc. ACM SIGSOFT …", "InProceedings of").
    reference = _REFERENCE_IN.sub("", " ".join(journal_ref.split())).strip(" .")
    if reference:
        return shorten(f"Published in {reference}", VENUE_MAX_CHARS)
    comment = " ".join(comment.split())
    match = _VENUE.search(comment)
    if match is None:
        return ""
    clause = _venue_clause(comment[match.start() :]).strip(" ,.")
    if len(clause.split()) < 3:  # "Published version" says where nothing is published
        return ""
    return shorten(clause[:1].upper() + clause[1:], VENUE_MAX_CHARS)


def _venue_clause(text: str) -> str:
    """The text up to its first clause end; a full stop only counts after a whole word.

    "Proc. of the IEEE" and "Int. Conf." go on; "ICLR 2026. Code: …", "(ICST 2021). 13 pages",
    "NeurIPS. …" and "ACL. …" end there.
    """
    for end in _CLAUSE_END.finditer(text):
        if not end.group().startswith("."):
            return text[: end.start()]
        word = text[: end.start()].rsplit(" ", 1)[-1]
        if word.isdigit() or word.endswith(")") or word.isupper() or len(word) >= 6:
            return text[: end.start()]
    return text


def _paper_links(paper: Paper) -> list[dict[str, str]]:
    links = [("Hugging Face", paper.hf_url), ("arXiv", paper.abs_url), ("PDF", paper.pdf_url)]
    links += [("Code", paper.github_repo), ("Project page", paper.project_page)]
    # Only absolute http(s) links: a scraped "javascript:" or relative URL is dropped, not linked.
    return [{"label": label, "url": url} for label, raw in links if (url := external_url(raw))]


def _paper_context(paper: Paper, number: int, markers: _NonceMarkers) -> dict[str, Any]:
    # The same rule as the site's cards, so a paper reads the same on the page and in the mail.
    summary = summary_text(paper=paper, max_chars=SUMMARY_MAX_CHARS)
    return {
        "open": markers.open(f"paper-{number}"),
        "close": markers.close(f"paper-{number}"),
        "arxiv_id": paper.arxiv_id,
        "title": " ".join(paper.title.split()),
        "title_url": external_url(paper.hf_url),
        "authors": authors_line(paper.authors or []),
        "organization": " ".join(paper.organization.split()),
        "venue": venue_line(journal_ref=paper.journal_ref, comment=paper.arxiv_comment),
        "summary": summary,
        "summary_wrapped": textwrap.fill(summary, TEXT_WIDTH),
        "upvotes": paper.upvotes,
        "num_comments": paper.num_comments,
        "links": _paper_links(paper),
    }


def _date_label(issue: Issue) -> str:
    if issue.kind == IssueKind.WEEKLY:
        return f"Week of {issue.date.day} {issue.date:%B %Y}"
    return f"{issue.date:%A}, {issue.date.day} {issue.date:%B %Y}"


def issue_heading(issue: Issue) -> str:
    """The issue's name on one line: "Paperboy daily digest · Wednesday, 14 January 2026"."""
    kind = "weekly" if issue.kind == IssueKind.WEEKLY else "daily"
    return f"Paperboy {kind} digest · {_date_label(issue)}"


def _short_date(day: dt.date) -> str:
    return f"{day.day} {day:%b %Y}"


def _period(issue: Issue) -> str:
    return _period_of(issue.kind == IssueKind.WEEKLY)


def _period_of(weekly: bool) -> str:
    return "this week" if weekly else "today"


def _quiet_line(issue: Issue) -> str:
    """Said plainly when few papers came out: no silence, and no older papers passed off as new."""
    count = issue.new_papers
    span = "week" if issue.kind == IssueKind.WEEKLY else "day"
    older = len(issue.candidate_ids or []) > count
    rest = (
        " The others here came out earlier in the week; you have not had them before."
        if older
        else ""
    )
    if count == 0:
        return f"A quiet {span}: no new papers came out {_period(issue)}.{rest}"
    papers = "paper" if count == 1 else "papers"
    return f"A quiet {span}: only {count} new {papers} came out {_period(issue)}.{rest}"


def issue_view_url(issue: Issue) -> str:
    """The absolute URL of the issue's non-personal "view in browser" page."""
    path = reverse("digest:issue", kwargs={"day": issue.date})
    return f"{settings.SITE_URL}{path}{'?kind=weekly' if issue.kind == IssueKind.WEEKLY else ''}"


def _issue_context(issue: Issue, markers: _NonceMarkers) -> dict[str, Any]:
    return {
        "issue": issue,
        "weekly": issue.kind == IssueKind.WEEKLY,
        "date_label": _date_label(issue),
        "short_date": _short_date(issue.date),
        "note": issue.note.strip(),
        "quiet_line": _quiet_line(issue) if issue.quiet else "",
        "period": _period(issue),
        # Each reader's own copy, or the public page: filled in when a reader's email is assembled.
        "view_url": markers.token["view"],
        "archive_url": f"{settings.SITE_URL}{reverse('digest:archive')}",
        "subscribe_url": f"{settings.SITE_URL}{reverse('subscriptions:subscribe')}",
        "site_url": settings.SITE_URL,
        "postal_address": settings.PAPERBOY_POSTAL_ADDRESS.strip(),
        "slot": {name: markers.slot(name) for name in _SLOTS},
        "open": {name: markers.open(name) for name in _SECTIONS},
        "close": {name: markers.close(name) for name in _SECTIONS},
        "token": markers.token,
    }


def _subjects(issue: Issue, papers: Mapping[str, Paper]) -> dict[str, str]:
    """The subject for each possible first paper ("" for an issue with none), on one line."""

    def subject(title: str) -> str:
        context = {"issue": issue, "short_date": _short_date(issue.date), "title": title}
        context["weekly"] = issue.kind == IssueKind.WEEKLY
        return " ".join(render_to_string("emails/digest.subject.txt", context).split())

    subjects = {
        arxiv_id: subject(shorten(paper.title, SUBJECT_TITLE_MAX_CHARS))
        for arxiv_id, paper in papers.items()
    }
    subjects[""] = subject("")
    return subjects


def issue_frame_build(*, issue: Issue, papers: Mapping[str, Paper]) -> IssueFrame:
    """`papers` holds every paper a pick may name (the candidates and the pins), by arxiv id."""
    markers = _NonceMarkers()
    context = _issue_context(issue, markers)
    context["papers"] = [
        _paper_context(paper, number, markers) for number, paper in enumerate(papers.values())
    ]
    html_doc = _INLINER.inline(render_to_string("emails/digest.html", context))
    text_doc = render_to_string("emails/digest.txt", context)
    return IssueFrame(
        html_doc=markers.cut(html_doc, papers=len(papers)),
        text_doc=markers.cut(text_doc, papers=len(papers)),
        subjects=_subjects(issue, papers),
        index={arxiv_id: number for number, arxiv_id in enumerate(papers)},
        upvotes={arxiv_id: _count(p.upvotes, "upvote") for arxiv_id, p in papers.items()},
        weekly=issue.kind == IssueKind.WEEKLY,
        view_url=issue_view_url(issue),
    )
