from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from papers.models import FetchRun, Paper, Source
from tests.factories import FetchRunFactory, PaperFactory, PaperMetricFactory

pytestmark = pytest.mark.django_db

PAPERS = reverse("admin:papers_paper_changelist")
RUNS = reverse("admin:papers_fetchrun_changelist")


def listed(response) -> set[str]:
    return {paper.arxiv_id for paper in response.context["cl"].result_list}


def act(admin_client, action: str, *papers: Paper):
    data = {"action": action, ACTION_CHECKBOX_NAME: [paper.pk for paper in papers]}
    return admin_client.post(PAPERS, data, follow=True)


@pytest.mark.parametrize("url", [PAPERS, RUNS, reverse("admin:index")])
def test_the_admin_needs_a_login(client, url: str) -> None:
    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_the_paper_list_renders_with_search_and_filters(admin_client) -> None:
    PaperFactory.create(arxiv_id="2511.00001", title="Sparse attention", authors=["Grace Hopper"])
    PaperFactory.create(arxiv_id="2511.00002", title="Dense attention", hidden=True)

    response = admin_client.get(PAPERS)
    html = response.content.decode()

    assert response.status_code == 200
    assert listed(response) == {"2511.00001", "2511.00002"}
    for filter_title in ("By source", "By hidden", "By featured", "By hf date"):
        assert filter_title in html
    assert listed(admin_client.get(PAPERS, {"q": "hopper"})) == {"2511.00001"}
    assert listed(admin_client.get(PAPERS, {"q": "2511.00002"})) == {"2511.00002"}
    assert listed(admin_client.get(PAPERS, {"hidden__exact": "1"})) == {"2511.00002"}


def test_the_source_filter_matches_the_whole_source_name(admin_client) -> None:
    PaperFactory.create(arxiv_id="2511.00001", sources=[Source.HF])
    PaperFactory.create(arxiv_id="2511.00002", sources=[Source.HF_HTML])
    PaperFactory.create(arxiv_id="2511.00003", sources=[Source.ARXIV, Source.HF])

    assert listed(admin_client.get(PAPERS, {"source": "hf"})) == {"2511.00001", "2511.00003"}
    assert listed(admin_client.get(PAPERS, {"source": "hf-html"})) == {"2511.00002"}
    assert listed(admin_client.get(PAPERS, {"source": "arxiv"})) == {"2511.00003"}


def test_the_date_filters_narrow_the_list(admin_client) -> None:
    PaperFactory.create(arxiv_id="2511.00001", hf_date=dt.date(2025, 11, 20))
    PaperFactory.create(arxiv_id="2510.00001", hf_date=dt.date(2025, 10, 2))

    response = admin_client.get(PAPERS, {"hf_date__year": "2025", "hf_date__month": "10"})

    assert listed(response) == {"2510.00001"}


def test_the_actions_hide_unhide_feature_and_unfeature(admin_client) -> None:
    first, second, untouched = PaperFactory.create_batch(3)

    response = act(admin_client, "hide", first, second)
    assert "2 papers hidden" in response.content.decode()
    assert set(Paper.objects.filter(hidden=True)) == {first, second}

    act(admin_client, "unhide", first)
    act(admin_client, "feature", second, untouched)
    act(admin_client, "unfeature", untouched)

    flags = {paper.pk: (paper.hidden, paper.featured) for paper in Paper.objects.all()}
    assert flags == {
        first.pk: (False, False),
        second.pk: (True, True),
        untouched.pk: (False, False),
    }


def test_fetch_again_queues_the_selected_ids_for_arxiv(
    admin_client, monkeypatch, django_capture_on_commit_callbacks
) -> None:
    calls: list[list[str]] = []
    monkeypatch.setattr("papers.tasks.fetch_papers_by_id.delay", calls.append)
    old = PaperFactory.create(arxiv_id="astro-ph/0601001")
    new = PaperFactory.create(arxiv_id="2511.14993")
    PaperFactory.create(arxiv_id="2511.00001")

    with django_capture_on_commit_callbacks(execute=True):
        response = act(admin_client, "fetch_again", new, old)

    assert calls == [["2511.14993", "astro-ph/0601001"]]
    assert "Queued a fetch from arXiv for 2 papers" in response.content.decode()


def test_the_paper_form_shows_recent_metrics(admin_client) -> None:
    paper = PaperFactory.create(title=f"Escaped {'<b>bold</b>'}")
    PaperMetricFactory.create(
        paper=paper, upvotes=77, captured_at=dt.datetime(2025, 11, 20, 9, 30, tzinfo=dt.UTC)
    )

    html = admin_client.get(reverse("admin:papers_paper_change", args=[paper.pk])).content.decode()

    assert "<td>2025-11-20 09:30</td><td>77</td>" in html
    assert "<b>bold</b>" not in html


def test_fetch_runs_are_listed_read_only_with_failures_marked(admin_client) -> None:
    started = dt.datetime(2025, 11, 20, 8, 0, tzinfo=dt.UTC)
    ok = FetchRunFactory.create(source=Source.HF, created=12, updated=3)
    failed = FetchRunFactory.create(
        source=Source.ARXIV,
        status=FetchRun.Status.FAILED,
        error="ParseError: truncated XML at line 1 <script>x</script>",
    )
    FetchRun.objects.filter(pk=failed.pk).update(
        started_at=started, finished_at=started + dt.timedelta(seconds=4)
    )

    response = admin_client.get(RUNS)
    html = response.content.decode()

    assert response.status_code == 200
    assert {run.pk for run in response.context["cl"].result_list} == {ok.pk, failed.pk}
    assert 'class="fetchrun-failed"' in html
    assert "✗ Failed" in html
    assert "ParseError: truncated XML at line 1 &lt;script&gt;" in html
    assert "4.0 s" in html
    assert {
        run.pk
        for run in admin_client.get(RUNS, {"status__exact": "failed"}).context["cl"].result_list
    } == {failed.pk}
    assert {
        run.pk for run in admin_client.get(RUNS, {"source__exact": "hf"}).context["cl"].result_list
    } == {ok.pk}


def test_fetch_runs_cannot_be_added_changed_or_deleted(admin_client) -> None:
    run = FetchRunFactory.create()
    change = reverse("admin:papers_fetchrun_change", args=[run.pk])

    assert admin_client.get(reverse("admin:papers_fetchrun_add")).status_code == 403
    assert (
        admin_client.get(reverse("admin:papers_fetchrun_delete", args=[run.pk])).status_code == 403
    )
    page = admin_client.get(change)
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    admin_client.post(change, {"status": "failed", "error": "edited"})
    run.refresh_from_db()
    assert run.status == FetchRun.Status.SUCCEEDED
    assert run.error == ""


def test_the_paper_form_shows_what_the_2026_sources_carry(admin_client) -> None:
    paper = PaperFactory.create(
        organization="Google",
        organization_slug="google",
        media_urls=["https://cdn-uploads.huggingface.co/production/uploads/x/demo.mp4"],
        arxiv_comment="Accepted at ICLR 2026. Code: https://github.com/example/repo",
        journal_ref="Phys. Rev. A 65, 032323 (2002)",
    )

    html = admin_client.get(reverse("admin:papers_paper_change", args=[paper.pk])).content.decode()

    for name in ("organization", "organization_slug", "media_urls", "arxiv_comment", "journal_ref"):
        assert f'name="{name}"' in html, name
    assert "Accepted at ICLR 2026" in html
    assert "Phys. Rev. A 65, 032323 (2002)" in html
