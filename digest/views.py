"""The public digest pages: the archive of issues, and each issue's "view in browser" page.

Nothing here ranks for a reader, so nothing here imports digest.ranking or digest.embeddings:
the web process never loads the sentence-transformers model.
"""

from __future__ import annotations

import datetime as dt

from csp.constants import NONCE
from csp.decorators import csp_update
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_safe

from digest.models import IssueKind
from digest.render import issue_frame_build
from digest.selectors import issue_find_published, issue_list_published, issue_public_picks

ARCHIVE_PAGE_SIZE = 30
PUBLIC_PAPERS = 10
# Short enough that an editor's hide shows up quickly, long enough to absorb a burst.
_publicly_cached = cache_control(public=True, max_age=60)


@require_safe
@_publicly_cached
def archive(request: HttpRequest) -> HttpResponse:
    """Every published issue, newest first."""
    issues = issue_list_published()
    page = Paginator(issues, ARCHIVE_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "digest/archive.html", {"page": page})


def _with_style_nonce(html: str, request: HttpRequest) -> str:
    """The email's own <style> blocks (dark mode, phones), let through the site's CSP by nonce."""
    lazy_nonce = getattr(request, "csp_nonce", None)  # set by django-csp's middleware
    if lazy_nonce is None:
        return html
    # str() makes the nonce (its truth value only says whether it was made yet); "<style " only
    # ever comes from our template, since scraped text in the email is escaped.
    return html.replace("<style ", f'<style nonce="{lazy_nonce!s}" ')


@require_safe
@_publicly_cached
# django-csp types its decorators for views that take only the request; the wrapper passes every
# argument on, so this view's `day` arrives.
@csp_update({"style-src": [NONCE]})  # type: ignore[arg-type]
def issue(request: HttpRequest, day: dt.date) -> HttpResponse:
    """The day's issue as the email, without anything personal ("view in browser")."""
    kind = request.GET.get("kind", IssueKind.DAILY)
    if kind not in IssueKind.values:
        raise Http404("No such kind of issue.")
    found = issue_find_published(date=day, kind=kind)
    if found is None:
        raise Http404("No such issue.")
    picks, papers = issue_public_picks(issue=found, limit=PUBLIC_PAPERS)
    email = issue_frame_build(issue=found, papers=papers).assemble_public(picks=picks)
    return HttpResponse(
        _with_style_nonce(email.html, request), content_type="text/html; charset=utf-8"
    )
