"""Editors' curation of issues in the admin: build one, pin and hide its candidates, find papers.

IssueAdmin (digest/admin/issue.py) builds on this class; here are only these pages and their
URLs. Every change goes through digest.services by POST with a CSRF token; a GET only shows.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.admin.widgets import AutocompleteSelect
from django.contrib.auth import get_permission_codename
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_POST

from digest import services
from digest.admin.forms import BuildForm, CandidatePaperForm
from digest.admin.issue_pages import IssuePagesAdmin, plural
from digest.models import Issue, IssueKind, IssueStatus
from digest.selectors import issue_find, paper_list_to_pin, papers_by_arxiv_id
from papers.models import Paper

# How many of the window's papers the build page lists by title.
BUILD_TITLES_SHOWN = 10
# The change form's query parameter that orders its candidates, kept across a pin or a hide.
CANDIDATE_SORT_PARAM = "votes"


class IssuePaperAutocomplete(AutocompleteSelect):
    """The admin's autocomplete for an issue's pins and hides, asking the issue's own search."""

    issue_url = ""

    def get_url(self) -> str:
        return self.issue_url or super().get_url()


def candidate_action_url(issue: Issue, action: str, sort: str = "") -> str:
    """The URL a candidate's Pin, Unpin, Hide or Unhide button posts to (its sort kept)."""
    url = reverse(f"admin:digest_issue_{action}", args=[issue.pk])
    return f"{url}?{urlencode({CANDIDATE_SORT_PARAM: sort})}" if sort else url


class IssueCurationAdmin(IssuePagesAdmin):
    """Build an issue, pin and hide its candidates, and the pin search, with their URLs."""

    def get_urls(self) -> list[URLPattern]:
        def view(function: Any, name: str, route: str) -> URLPattern:
            return path(route, self.admin_site.admin_view(function), name=f"digest_issue_{name}")

        candidate_views = [
            view(require_POST(self._candidate_view(action)), action, f"<path:object_id>/{action}/")
            for action in ("pin", "unpin", "hide", "unhide")
        ]
        return [
            view(self.build_view, "build", "build/"),
            *candidate_views,
            view(require_GET(self.papers_view), "papers", "<path:object_id>/papers/"),
            *super().get_urls(),
        ]

    def has_build_permission(self, request: HttpRequest) -> bool:
        """Whether the user may build issues: Django's "add issue" permission.

        The admin's own add form stays closed (has_add_permission is False): an issue is built
        from its window, never typed in.
        """
        codename = get_permission_codename("add", self.opts)
        return request.user.has_perm(f"{self.opts.app_label}.{codename}")

    # --- Build ---

    def build_view(self, request: HttpRequest) -> HttpResponse:
        """The date and kind (GET), the candidates the window would take, then build (POST)."""
        if not self.has_build_permission(request):
            raise PermissionDenied
        data = request.POST if request.method == "POST" else request.GET
        if request.method != "POST" and not ("date" in data or "kind" in data):
            return self._build_page(request, BuildForm(initial={"date": timezone.now().date()}))
        form = BuildForm(data)
        if not form.is_valid():
            return self._build_page(request, form)
        date, kind = form.cleaned_data["date"], form.cleaned_data["kind"]
        existing = issue_find(date=date, kind=kind)
        if request.method == "POST" and existing is not None:
            self.message_user(request, f"{existing} was already built: here it is.", messages.INFO)
            return self._redirect_to_issue(existing)
        if request.method == "POST":
            return self._build(request, form)
        preview = services.issue_build_preview(date=date, kind=kind)
        return self._build_page(request, form, preview=preview, existing=existing)

    def _build(self, request: HttpRequest, form: BuildForm) -> HttpResponse:
        date, kind = form.cleaned_data["date"], form.cleaned_data["kind"]
        try:
            issue = services.issue_build(date=date, kind=kind)
        except services.IssueEmptyError as error:
            reason = str(error)
            self.message_user(request, f"{reason[:1].upper()}{reason[1:]}.", messages.ERROR)
            return self._build_page(request, form)
        status = (
            "a draft: schedule it when it is ready"
            if issue.status == IssueStatus.DRAFT
            else issue.get_status_display().lower()
        )
        candidates = plural(len(issue.candidate_ids), "candidate")
        self.message_user(
            request, f"Built {issue} with {candidates}; it is {status}.", messages.SUCCESS
        )
        return self._redirect_to_issue(issue)

    def _build_page(
        self,
        request: HttpRequest,
        form: BuildForm,
        *,
        preview: services.BuildPreview | None = None,
        existing: Issue | None = None,
    ) -> TemplateResponse:
        papers: list[Paper] = []
        if preview is not None:
            shown = preview.candidate_ids[:BUILD_TITLES_SHOWN]
            found = papers_by_arxiv_id(arxiv_ids=shown)
            papers = [found[arxiv_id] for arxiv_id in shown if arxiv_id in found]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Build an issue",
            "form": form,
            "preview": preview,
            "papers": papers,
            "more": len(preview.candidate_ids) - len(papers) if preview else 0,
            "notes": _build_notes(preview) if preview and preview.candidate_ids else [],
            "existing": existing,
        }
        return TemplateResponse(request, "admin/digest/issue/build.html", context)

    # --- Pin and hide a candidate ---

    def _candidate_view(self, action: str) -> Any:
        change = {
            "pin": services.issue_paper_pin,
            "unpin": services.issue_paper_unpin,
            "hide": services.issue_paper_hide,
            "unhide": services.issue_paper_unhide,
        }[action]

        def candidate_view(request: HttpRequest, object_id: str) -> HttpResponseRedirect:
            issue = self._issue_to_change(request, object_id)
            form = CandidatePaperForm(request.POST)
            if not form.is_valid():
                errors = "; ".join(str(error) for error in form.errors["paper"])
                self.message_user(request, f"Nothing changed: {errors}", messages.ERROR)
                return self._back_to_candidates(request, issue)
            paper = form.cleaned_data["paper"]
            try:
                changed = change(issue_id=issue.pk, paper=paper)
            except services.IssueFrozenError as error:
                self.message_user(request, f"Nothing changed: {error}.", messages.ERROR)
                return self._back_to_candidates(request, issue)
            self.message_user(
                request, _candidate_message(action, paper, changed=changed), messages.SUCCESS
            )
            return self._back_to_candidates(request, issue, paper=paper)

        candidate_view.__name__ = f"{action}_view"
        return candidate_view

    def _back_to_candidates(
        self, request: HttpRequest, issue: Issue, *, paper: Paper | None = None
    ) -> HttpResponseRedirect:
        """The issue's page, in the same order, scrolled to the paper's row (or the list)."""
        url = reverse("admin:digest_issue_change", args=[issue.pk])
        sort = request.GET.get(CANDIDATE_SORT_PARAM, "")
        query = f"?{urlencode({CANDIDATE_SORT_PARAM: sort})}" if sort in ("more", "less") else ""
        anchor = f"candidate-{paper.pk}" if paper is not None else "candidates-sort"
        return HttpResponseRedirect(f"{url}{query}#{anchor}")

    # --- The pins' and hides' paper search ---

    def papers_view(self, request: HttpRequest, object_id: str) -> JsonResponse:
        """The papers to pin or hide for a search term, as select2 reads them: candidates first."""
        issue = self._issue_to_change(request, object_id)
        choices = paper_list_to_pin(issue=issue, term=request.GET.get("term", ""))
        groups = [
            ("Candidates of this issue", choices.candidates),
            ("Other papers", choices.others),
        ]
        results = [
            {
                "text": label,
                "children": [{"id": str(paper.pk), "text": str(paper)} for paper in papers],
            }
            for label, papers in groups
            if papers
        ]
        return JsonResponse({"results": results, "pagination": {"more": False}})


def _candidate_message(action: str, paper: Paper, *, changed: bool) -> str:
    """What a candidate's button did, and how to undo it."""
    title = f"“{paper.title[:80]}”"
    done = {
        "pin": (
            f"Pinned {title}: first in every digest of this issue. Unpin it to undo.",
            f"{title} was already pinned.",
        ),
        "unpin": (f"Unpinned {title}.", f"{title} was not pinned."),
        "hide": (
            f"Hid {title} from this issue. Unhide it to undo.",
            f"{title} was already hidden.",
        ),
        "unhide": (f"{title} is back among the candidates.", f"{title} was not hidden."),
    }[action]
    return done[0] if changed else done[1]


def _build_notes(preview: services.BuildPreview) -> list[str]:
    """What the editor should know before building: its status, and when it can go out."""
    if settings.PAPERBOY_ISSUE_REQUIRE_APPROVAL:
        notes = ["It is built as a draft: nothing goes out until you schedule it."]
    else:
        notes = ["It is built scheduled: it goes out at each reader's hour on its date."]
    today = timezone.now().date()
    if preview.kind == IssueKind.WEEKLY and preview.date.weekday() != 0:
        notes.append(
            "Weekly readers get the weekly issue on their Monday; this date is a "
            f"{preview.date:%A}, so only “Send now” sends it."
        )
    if preview.date < today - dt.timedelta(days=1):
        notes.append("This date is past: readers' hours have gone, so only “Send now” sends it.")
    return notes
