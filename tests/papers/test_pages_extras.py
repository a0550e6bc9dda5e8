"""Cards and paper pages show the organization, the media (as links), the comment and journal
reference, from the real 2026 captures; scraped values are escaped and unsafe links dropped."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from papers.ingest import papers_ingest
from papers.sources import arxiv_api, hf_api
from tests.factories import PaperFactory
from tests.helpers import SHOTS, fixture_bytes

HF_2026 = "hf_daily_papers/api_daily_papers_date-2026-08-21_items-verbatim-reindented.json"
ARXIV_CL = "arxiv_atom/2026-09-24_api_query_cat-cs.CL_start0_max3.xml"
XSS = "<script>alert(1)</script>"


def _load_captures() -> None:
    records = [
        *hf_api.parse(fixture_bytes(HF_2026)).records,
        *arxiv_api.parse(fixture_bytes(ARXIV_CL)).records,
    ]
    papers_ingest(records=records, fetch_run=None)


def _html(client: Any, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def _media_urls(arxiv_id: str) -> tuple[str, ...]:
    records = hf_api.parse(fixture_bytes(HF_2026)).records
    return next(record.media_urls for record in records if record.arxiv_id == arxiv_id)


@pytest.mark.django_db
def test_a_card_shows_the_organization_linked_to_its_hugging_face_page(client: Any) -> None:
    _load_captures()

    html = _html(client, "/papers/date/2026-08-21/")

    card = html[html.index("EnvHarness: Awakening") :]
    card = card[: card.index("</article>")]
    assert re.search(r'<a class="org" href="https://huggingface.co/google"[^>]*>Google</a>', card)
    assert card.index("Chengsong Huang") < card.index(">Google</a>")
    ustc = re.search(r'href="https://huggingface.co/ustc"[^>]*>([^<]*)</a>', html)
    assert ustc is not None
    assert ustc.group(1) == "university of science and technology of china"


@pytest.mark.django_db
def test_the_paper_page_links_the_organization_and_the_media_and_embeds_neither(
    client: Any,
) -> None:
    _load_captures()
    images = _media_urls("2608.20281")
    (video,) = _media_urls("2608.20335")

    baai = _html(client, "/papers/2608.20281/")
    ant = _html(client, "/papers/2608.20335/")

    assert re.search(
        r'<dt>Organization</dt><dd><a class="org" href="https://huggingface.co/BAAI"[^>]*>'
        r"Beijing Academy of Artificial Intelligence</a>",
        baai,
    )
    assert f'<a href="{images[0]}" rel="noopener">Image 1</a>' in baai
    assert f'<a href="{images[1]}" rel="noopener">Image 2</a>' in baai
    assert f'<a href="{video}" rel="noopener">Video</a>' in ant
    for page in (baai, ant):
        # Linked, never loaded by the reader's browser from Hugging Face's CDN.
        assert not re.search(r"<(?:img|video|source)[^>]+cdn-uploads", page)
        assert "On arXiv" not in page


@pytest.mark.django_db
def test_the_paper_page_shows_the_comment_with_its_links_and_the_journal_ref(client: Any) -> None:
    _load_captures()

    html = _html(client, "/papers/2609.28471/")

    notes = html[html.index('<h2 id="publication-title">On arXiv</h2>') :]
    notes = notes[: notes.index("</section>")]
    assert (
        "<dt>Journal reference</dt><dd>Experimental IR Meets Multilinguality, Multimodality, "
        "and Interaction (CLEF 2026), LNCS 17087, pp. 92-102, Springer (2027)</dd>"
    ) in notes
    assert "Published in the proceedings of CLEF 2026. Code: " in notes
    assert re.search(
        r'<a href="https://github.com/petekirby/contrastive-av"[^>]*rel="nofollow"[^>]*>', notes
    )
    # The code link read from the comment also became the paper's Code link.
    assert re.search(
        r'<a href="https://github.com/petekirby/contrastive-av" rel="noopener">Code', html
    )
    assert 'class="org"' not in html
    assert "Media on Hugging Face" not in html


@pytest.mark.django_db
def test_scraped_values_are_escaped_and_unsafe_links_never_linked(client: Any) -> None:
    PaperFactory.create(
        arxiv_id="2608.00001",
        organization=f"Evil {XSS}",
        organization_slug="../admin/?x=<b>",
        arxiv_comment=f"{XSS} javascript:alert(2) https://example.org/code",
        journal_ref=f"Journal {XSS}",
        media_urls=["javascript:alert(3)", "/relative.png", "https://cdn.example/fig.png"],
    )

    card = _html(client, "/")
    page = _html(client, "/papers/2608.00001/")

    for html in (card, page):
        assert XSS not in html
        assert "Evil &lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert 'href="https://huggingface.co/..%2Fadmin%2F%3Fx%3D%3Cb%3E"' in html
        assert not re.search(r'href="\s*javascript:', html, re.IGNORECASE)
    assert "Journal &lt;script&gt;" in page
    assert '<a href="https://cdn.example/fig.png" rel="noopener">Image</a>' in page
    assert "/relative.png" not in page


@pytest.mark.django_db
def test_a_paper_without_them_shows_none_of_their_parts(client: Any) -> None:
    PaperFactory.create(arxiv_id="2608.00002")

    card = _html(client, "/")
    page = _html(client, "/papers/2608.00002/")

    for html in (card, page):
        assert 'class="org"' not in html
    assert "<dt>Organization</dt>" not in page
    assert "On arXiv" not in page
    assert "Media on Hugging Face" not in page


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_paper_pages_look_right_in_chromium(browser: Any, live_server: Any) -> None:
    _load_captures()
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    requested: list[str] = []
    context.on("request", lambda request: requested.append(request.url))
    context.route(re.compile(r"^https?://(?!localhost|127\.0\.0\.1)"), lambda route: route.abort())
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/papers/2608.20281/")
        expect(
            page.get_by_role("link", name="Beijing Academy of Artificial Intelligence")
        ).to_be_visible()
        expect(page.get_by_role("link", name="Image 2")).to_be_visible()
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "paper-organization-media.png"), full_page=True)

        page.goto(f"{live_server.url}/papers/2609.28471/")
        expect(page.get_by_text("Springer (2027)")).to_be_visible()
        expect(
            page.get_by_role("link", name="https://github.com/petekirby/contrastive-av")
        ).to_be_visible()
        page.screenshot(path=str(SHOTS / "paper-comment-journal-ref.png"), full_page=True)

        page.goto(f"{live_server.url}/papers/date/2026-08-21/")
        expect(page.get_by_role("link", name="Google", exact=True).first).to_be_visible()
        page.screenshot(path=str(SHOTS / "cards-organization.png"))
    finally:
        context.close()
    assert not [url for url in requested if "cdn-uploads.huggingface.co" in url]
