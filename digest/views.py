"""The public digest pages: the archive of issues, and each issue's non-personal "view in browser" page.

Nothing here ranks for a reader, so nothing here imports digest.ranking or digest.embeddings:
the web process never loads the sentence-transformers model.
"""

from __future__ import annotations

import datetime as dt

from csp.constants import NONCE
from csp.decorators import csp_update
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_safe

from digest.models import Issue, IssueKind, IssueStatus
from digest.render import Pick, issue_frame_build
from papers.models import Paper

ARCHIVE_PAGE_SIZE = 30
PUBLIC_PAPERS = 10
EDITORS_PICK = "editor's pick"
# Short enough that an editor's hide shows up quickly, long enough to absorb a burst.
_public = cache_control(public=True, max_age=60)


def issue_list_published() -> QuerySet[Issue]:
    """Issues the public may read: going out or gone out, and scheduled ones whose day has come."""
    today = timezone.localdate()
    going = Q(status__in=[IssueStatus.SENDING, IssueStatus.SENT])
    return Issue.objects.filter(going | Q(status=IssueStatus.SCHEDULED, date__lte=today))


def _shown(paper: Paper) -> bool:
    return not paper.hidden and paper.withdrawn_at is None


def _trending_reason(upvotes: int) -> str:
    return f"trending: {upvotes} upvote{'' if upvotes == 1 else 's'}"


def issue_public_picks(*, issue: Issue, limit: int) -> tuple[list[Pick], dict[str, Paper]]:
    """The non-personal digest: the editors' pins, then the top candidates by trending, up to `limit`."""
    pins = [pin.paper for pin in issue.pins.select_related("paper") if _shown(pin.paper)]
    skip = {paper.arxiv_id for paper in pins}
    skip.update(issue.hides.values_list("paper__arxiv_id", flat=True))
    wanted = [arxiv_id for arxiv_id in issue.candidate_ids or [] if arxiv_id not in skip]
    found = Paper.objects.filter(arxiv_id__in=wanted, hidden=False, withdrawn_at__isnull=True)
    by_id = found.in_bulk(field_name="arxiv_id")
    trending = [by_id[arxiv_id] for arxiv_id in wanted if arxiv_id in by_id][: max(limit - len(pins), 0)]
    picks = [Pick(paper.arxiv_id, EDITORS_PICK) for paper in pins]
    picks += [Pick(paper.arxiv_id, _trending_reason(paper.upvotes)) for paper in trending]
    return picks, {paper.arxiv_id: paper for paper in [*pins, *trending]}


@require_safe
@_public
def archive(request: HttpRequest) -> HttpResponse:
    """Every published issue, newest first."""
    issues = issue_list_published().order_by("-date", "kind")
    page = Paginator(issues, ARCHIVE_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "digest/archive.html", {"page": page})


def _with_style_nonce(html: str, request: HttpRequest) -> str:
    """The email's own <style> blocks (dark mode, phones), let through the site's CSP by its nonce."""
    lazy_nonce = getattr(request, "csp_nonce", None)  # set by django-csp's middleware
    if lazy_nonce is None:
        return html
    # str() makes the nonce (its truth value only says whether it was made yet); "<style " only
    # ever comes from our template, since scraped text in the email is escaped.
    return html.replace("<style ", f'<style nonce="{lazy_nonce!s}" ')


@require_safe
@_public
@csp_update({"style-src": [NONCE]})
def issue(request: HttpRequest, day: dt.date) -> HttpResponse:
    """The day's issue as the email, without anything personal ("view in browser")."""
    kind = request.GET.get("kind", IssueKind.DAILY)
    if kind not in IssueKind.values:
        raise Http404("No such kind of issue.")
    found = get_object_or_404(issue_list_published(), date=day, kind=kind)
    picks, papers = issue_public_picks(issue=found, limit=PUBLIC_PAPERS)
    email = issue_frame_build(issue=found, papers=papers).assemble_public(picks=picks)
    return HttpResponse(_with_style_nonce(email.html, request), content_type="text/html; charset=utf-8")
