"""The digest email names the organization next to the authors and says, in one short line,
where a paper is published (its journal reference, or "Accepted at …" from its comment)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from playwright.sync_api import expect

from digest.models import Issue, IssueKind
from digest.render import VENUE_MAX_CHARS, EmailParts, Pick, issue_frame_build, venue_line
from papers.ingest import papers_ingest
from papers.models import Paper
from papers.sources import arxiv_api, hf_api
from tests.factories import PaperFactory
from tests.helpers import SHOTS, fixture_bytes

HF_2026 = "hf_daily_papers/api_daily_papers_date-2026-08-21_items-verbatim-reindented.json"
ARXIV_CL = "arxiv_atom/2026-09-24_api_query_cat-cs.CL_start0_max3.xml"
CLEF_REF = (
    "Experimental IR Meets Multilinguality, Multimodality, and Interaction (CLEF 2026), "
    "LNCS 17087, pp. 92-102, Springer (2027)"
)
XSS = "<script>alert(1)</script>"


def _issue() -> Issue:
    start = dt.datetime(2026, 8, 20, 0, 0, tzinfo=dt.UTC)
    return Issue(
        date=dt.date(2026, 8, 21),
        kind=IssueKind.DAILY,
        window_start=start,
        window_end=start + dt.timedelta(days=1),
        candidate_ids=[],
    )


def _email(*papers: Paper) -> EmailParts:
    frame = issue_frame_build(issue=_issue(), papers={paper.arxiv_id: paper for paper in papers})
    return frame.assemble(
        picks=[Pick(paper.arxiv_id, "trending: 163 upvotes") for paper in papers],
        fallback=False,
        has_interests=True,
        manage_url="https://paperboy.example/manage/t/",
        unsubscribe_url="https://paperboy.example/unsubscribe/t/",
    )


def _paper_block(text: str, title: str) -> list[str]:
    """The text part's lines of one paper, from its title to its first link."""
    lines = text.splitlines()
    start = lines.index(title)
    end = next(n for n in range(start, len(lines)) if lines[n].startswith("Hugging Face: "))
    return lines[start:end]


def test_the_organization_stands_next_to_the_authors_in_both_parts() -> None:
    paper = PaperFactory.build(
        title="EnvHarness: Awakening Static Worlds for Agent Learning",
        authors=["Chengsong Huang", "Zifeng Wang", "Rujun Han", "Jun Yan"],
        organization="Google",
        organization_slug="google",
    )

    email = _email(paper)

    byline = "Chengsong Huang, Zifeng Wang, Rujun Han et al. · Google"
    assert byline in _paper_block(email.text, paper.title)
    assert re.search(rf'<p class="pb-authors"[^>]*>{re.escape(byline)}</p>', email.html)


def test_an_organization_without_authors_stands_alone() -> None:
    paper = PaperFactory.build(title="Org only", authors=[], organization="NVIDIA")

    email = _email(paper)

    assert _paper_block(email.text, "Org only")[1] == "NVIDIA"
    assert re.search(r'<p class="pb-authors"[^>]*>NVIDIA</p>', email.html)


def test_a_journal_ref_gives_one_published_in_line_in_both_parts() -> None:
    paper = PaperFactory.build(
        title="Contrastive Learning for Authorship Verification",
        authors=["Peter Kirby"],
        journal_ref=CLEF_REF,
        arxiv_comment="Published in the proceedings of CLEF 2026. Code: https://github.com/x/y",
    )

    email = _email(paper)

    line = venue_line(journal_ref=CLEF_REF, comment="")
    assert line.startswith("Published in Experimental IR Meets Multilinguality")
    assert len(line) <= VENUE_MAX_CHARS
    assert _paper_block(email.text, paper.title)[1:3] == ["Peter Kirby", line]
    venue = re.search(r'<p class="pb-authors pb-venue"[^>]*><em>(.*?)</em></p>', email.html)
    assert venue is not None
    assert venue.group(1) == line
    assert "github.com/x/y" not in email.text  # the comment's code link is not the venue


def test_a_paper_with_neither_has_no_venue_line_and_no_dangling_separator() -> None:
    paper = PaperFactory.build(title="Plain paper", authors=["Ada Lovelace"])

    email = _email(paper)

    assert _paper_block(email.text, "Plain paper")[1:3] == [
        "Ada Lovelace",
        "trending: 163 upvotes · 10 upvotes",
    ]
    assert "pb-venue" not in email.html
    assert "Ada Lovelace ·" not in email.html
    assert "Ada Lovelace ·" not in email.text


def test_the_organization_and_venue_are_escaped_in_the_html() -> None:
    paper = PaperFactory.build(organization=f"Org {XSS}", journal_ref=f"Journal {XSS}")

    email = _email(paper)

    assert XSS not in email.html
    assert "Org &lt;script&gt;" in email.html
    assert "Published in Journal &lt;script&gt;" in email.html
    assert f"Org {XSS}" in email.text


@pytest.mark.parametrize(
    ("comment", "venue"),
    [
        # Real comments of the captures in tests/fixtures/arxiv_atom.
        (
            "Published in the proceedings of CLEF 2026. Code: https://github.com/petekirby/contrastive-av",
            "Published in the proceedings of CLEF 2026",
        ),
        (
            "8 pages, accepted at the 6th International Workshop on Metamorphic Testing (MET'21)",
            "Accepted at the 6th International Workshop on Metamorphic Testing (MET'21)",
        ),
        (
            "To appear in the Proc. of the IEEE International Conference on Software Testing, "
            "Verification and Validation (ICST) 2021",
            "To appear in the Proc. of the IEEE International Conference on Software Testing, "
            "Verification and Validation (ICST) 2021",
        ),
        (
            '14 pages; to appear in "Algorithmica". Part of this work has been presented at the '
            "ICALP 2011 Group Testing Workshop; arXiv:1106.3680",
            'To appear in "Algorithmica"',
        ),
        (
            "In Proceedings of the 30th ACM SIGSOFT International Symposium on Software Testing "
            "and Analysis July 11 to 17, 2021, Denmark. 13 pages",
            "In Proceedings of the 30th ACM SIGSOFT International Symposium on Software Testing "
            "and Analysis July 11 to 17, 2021…",
        ),
        ("Accepted at ICLR 2026, 12 pages, 5 figures", "Accepted at ICLR 2026"),
        ("8 pages, 3 figures. Published version", ""),
        ("24 pages, 3 figures, submitted to Software Testing, Verification and Reliability", ""),
        ("32 pages", ""),
        ("", ""),
    ],
)
def test_the_venue_is_the_clause_of_the_comment_that_says_where(comment: str, venue: str) -> None:
    assert venue_line(journal_ref="", comment=comment) == venue


@pytest.mark.parametrize(
    ("journal_ref", "venue"),
    [
        ("Phys. Rev. B 85, 115117 (2012)", "Published in Phys. Rev. B 85, 115117 (2012)"),
        ("Annals of Physics 324, 523 (2009).", "Published in Annals of Physics 324, 523 (2009)"),
        ("In Proc. ACM SIGSOFT (ISSTA 2020)", "Published in Proc. ACM SIGSOFT (ISSTA 2020)"),
        (
            "InProceedings of the 31st ACM SIGSOFT",
            "Published in Proceedings of the 31st ACM SIGSOFT",
        ),
        ("Intelligent Systems 3 (2024)", "Published in Intelligent Systems 3 (2024)"),
        ("  \n ", ""),
    ],
)
def test_a_journal_ref_is_said_as_published_in(journal_ref: str, venue: str) -> None:
    assert venue_line(journal_ref=journal_ref, comment="Accepted at X Y Z") == (
        venue or "Accepted at X Y Z"
    )


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_email_with_2026_papers_looks_right(browser: Any) -> None:
    records = [
        *hf_api.parse(fixture_bytes(HF_2026)).records[:3],
        *arxiv_api.parse(fixture_bytes(ARXIV_CL)).records[:1],
    ]
    papers_ingest(records=records, fetch_run=None)
    papers = [Paper.objects.get(arxiv_id=record.arxiv_id) for record in records]

    email = _email(*papers)

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.route(re.compile(r"^https?://(?!localhost|127\.0\.0\.1)"), lambda route: route.abort())
    page = context.new_page()
    try:
        page.set_content(email.html)
        expect(page.get_by_text("et al. · Google")).to_be_visible()
        expect(page.get_by_text("Published in Experimental IR Meets")).to_be_visible()
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "digest-email-organization-venue.png"), full_page=True)
    finally:
        context.close()
