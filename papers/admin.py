"""Editors' admin: curate papers (hide, feature, fetch again) and read the fetch log."""

from __future__ import annotations

import json

from django.contrib import admin, messages
from django.db import models, transaction
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.text import Truncator

from papers.models import FetchRun, Paper, Source
from papers.selectors import paper_search
from papers.tasks import fetch_papers_by_id

_RECENT_METRICS = 20
_TITLE_SHOWN = 70
_STATUS_SYMBOLS: dict[str, str] = {FetchRun.Status.FAILED: "✗", FetchRun.Status.SUCCEEDED: "✓"}
_STATUS_COLORS: dict[str, str] = {
    FetchRun.Status.FAILED: "#b91c1c",
    FetchRun.Status.SUCCEEDED: "#15803d",
}


class SourceFilter(admin.SimpleListFilter):
    """Papers seen by one source.

    `sources` is a JSON list, so the quoted value is matched: `"hf"` must not also pick up
    `"hf-html"`.
    """

    title = "source"
    parameter_name = "source"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return list(Source.choices)

    def queryset(self, request: HttpRequest, queryset: QuerySet[Paper]) -> QuerySet[Paper]:
        value = self.value()
        if value not in Source.values:
            return queryset
        return queryset.filter(sources__icontains=json.dumps(value))


@admin.register(Paper)
class PaperAdmin(admin.ModelAdmin):
    # Few, narrow columns so the list fits 1280 px beside the admin's two sidebars (with
    # static/css/papers_admin.css): sources are a filter and on the change form, and one "state"
    # column names what is featured or hidden instead of two columns of icons.
    list_display = ("arxiv_id", "short_title", "hf_day", "votes", "state")
    list_display_links = ("arxiv_id", "short_title")
    list_filter = (SourceFilter, "hidden", "featured", "hf_date")
    date_hierarchy = "hf_date"
    search_fields = ("arxiv_id", "title", "authors")
    ordering = ("-hf_date", "-upvotes", "arxiv_id")
    list_per_page = 50
    show_full_result_count = False  # a COUNT(*) over every paper on each page view buys nothing
    actions = ("hide", "unhide", "feature", "unfeature", "fetch_again")
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    class Media:
        css = {"all": ("css/papers_admin.css",)}

    readonly_fields = (
        "sources",
        "first_seen_at",
        "last_seen_at",
        "created_at",
        "updated_at",
        "recent_metrics",
    )
    fieldsets = (
        (None, {"fields": ("arxiv_id", "title", "authors", "hidden", "featured")}),
        (
            "Dates",
            {
                "fields": (
                    "published_at",
                    "hf_date",
                    "withdrawn_at",
                    "first_seen_at",
                    "last_seen_at",
                )
            },
        ),
        ("Counters", {"fields": ("upvotes", "num_comments", "github_stars", "recent_metrics")}),
        (
            "Text",
            {
                "fields": (
                    "abstract",
                    "ai_summary",
                    "ai_keywords",
                    "categories",
                    "arxiv_comment",
                    "journal_ref",
                )
            },
        ),
        (
            "Links",
            {
                "fields": (
                    "github_repo",
                    "project_page",
                    "thumbnail",
                    "organization",
                    "organization_slug",
                    "media_urls",
                )
            },
        ),
        ("Record", {"fields": ("sources", "created_at", "updated_at")}),
    )

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Paper], search_term: str
    ) -> tuple[QuerySet[Paper], bool]:
        """What the public search finds (hidden papers too), and papers by arXiv id."""
        term = search_term.strip()
        if not term:
            return queryset, False
        found = paper_search(query=term, include_hidden=True).order_by().values("pk")
        return queryset.filter(Q(pk__in=found) | Q(arxiv_id__icontains=term)), False

    def view_on_site(self, paper: Paper) -> str:  # the public page, linked from the change form
        return reverse("papers:detail", kwargs={"arxiv_id": paper.arxiv_id})

    @admin.display(description="title", ordering="title")
    def short_title(self, paper: Paper) -> str:
        # Three lines at most in the title column; the whole title is on the change form.
        return Truncator(paper.title).chars(_TITLE_SHOWN)

    @admin.display(description="HF date", ordering="hf_date", empty_value="–")
    def hf_day(self, paper: Paper) -> str | None:
        return paper.hf_date.isoformat() if paper.hf_date else None  # narrower than "Nov. 28, 2025"

    @admin.display(description="votes", ordering="upvotes")
    def votes(self, paper: Paper) -> int:
        return paper.upvotes

    @admin.display(description="state")
    def state(self, paper: Paper) -> str:
        flags = {"featured": paper.featured, "hidden": paper.hidden}
        return ", ".join(name for name, on in flags.items() if on) or "–"

    @admin.display(description="recent metrics")
    def recent_metrics(self, paper: Paper) -> SafeString | str:
        if paper.pk is None:
            return "–"
        metrics = paper.metrics.order_by("-captured_at", "-pk")[:_RECENT_METRICS]
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    f"{m.captured_at:%Y-%m-%d %H:%M}",
                    m.upvotes,
                    m.num_comments,
                    m.github_stars or "–",
                )
                for m in metrics
            ),
        )
        if not rows:
            return "No snapshots yet."
        return format_html(
            "<table><thead><tr>"
            "<th>captured (UTC)</th><th>upvotes</th><th>comments</th><th>stars</th>"
            "</tr></thead><tbody>{}</tbody></table>",
            rows,
        )

    def _flags_update(
        self, request: HttpRequest, queryset: QuerySet[Paper], message: str, **flags: bool
    ) -> None:
        count = queryset.update(**flags)
        self.message_user(
            request, f"{count} paper{'s' if count != 1 else ''} {message}.", messages.SUCCESS
        )

    @admin.action(description="Hide selected papers from the site and digests")
    def hide(self, request: HttpRequest, queryset: QuerySet[Paper]) -> None:
        self._flags_update(request, queryset, "hidden", hidden=True)

    @admin.action(description="Unhide selected papers")
    def unhide(self, request: HttpRequest, queryset: QuerySet[Paper]) -> None:
        self._flags_update(request, queryset, "unhidden", hidden=False)

    @admin.action(description="Feature selected papers")
    def feature(self, request: HttpRequest, queryset: QuerySet[Paper]) -> None:
        self._flags_update(request, queryset, "featured", featured=True)

    @admin.action(description="Unfeature selected papers")
    def unfeature(self, request: HttpRequest, queryset: QuerySet[Paper]) -> None:
        self._flags_update(request, queryset, "unfeatured", featured=False)

    @admin.action(description="Fetch selected papers again from arXiv")
    def fetch_again(self, request: HttpRequest, queryset: QuerySet[Paper]) -> None:
        arxiv_ids = list(queryset.order_by("arxiv_id").values_list("arxiv_id", flat=True))
        # After commit, so the worker never runs ahead of this request's transaction.
        transaction.on_commit(lambda: fetch_papers_by_id.delay(arxiv_ids))
        self.message_user(
            request,
            f"Queued a fetch from arXiv for {len(arxiv_ids)} "
            f"paper{'s' if len(arxiv_ids) != 1 else ''}; see Fetch runs for the result.",
            messages.INFO,
        )


@admin.register(FetchRun)
class FetchRunAdmin(admin.ModelAdmin):
    """The fetch log is written by the fetchers only: editors read it, nobody edits it."""

    list_display = (
        "started_at",
        "source",
        "status_mark",
        "failure_count",
        "duration",
        "created",
        "updated",
        "unchanged",
        "skipped",
        "error_excerpt",
    )
    list_filter = ("source", "status")
    date_hierarchy = "started_at"
    ordering = ("-started_at",)
    list_per_page = 50

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: FetchRun | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: FetchRun | None = None) -> bool:
        return False

    @admin.display(description="status", ordering="status")
    def status_mark(self, run: FetchRun) -> SafeString:
        symbol = _STATUS_SYMBOLS.get(run.status, "…")
        color = _STATUS_COLORS.get(run.status, "#a16207")
        weight = "700" if run.status == FetchRun.Status.FAILED else "400"
        return format_html(
            '<span class="fetchrun-{}" style="color:{};font-weight:{};white-space:nowrap">'
            "{} {}</span>",
            run.status,
            color,
            weight,
            symbol,
            run.get_status_display(),
        )

    @admin.display(description="duration")
    def duration(self, run: FetchRun) -> str:
        if not run.finished_at:
            return "–"
        seconds = max((run.finished_at - run.started_at).total_seconds(), 0.0)
        return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"

    @admin.display(description="failures", ordering="failures")
    def failure_count(self, run: FetchRun) -> str:
        """How many failed attempts this run stands for (a source failing again updates it)."""
        if not run.failures:
            return ""
        return f"{run.failures} × {run.failure_kind}" if run.failure_kind else str(run.failures)

    @admin.display(description="last error")
    def error_excerpt(self, run: FetchRun) -> str:
        return Truncator(run.error).chars(120) if run.error else ""
