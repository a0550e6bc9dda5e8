"""Editors' admin of an issue: the list with its delivery figures, the change form, the actions.

The note, the pins and the hides are edited on the change form until the issue starts going
out; then they are frozen, since the readers of one issue must all get the same issue. The
issue's own pages (preview, send a test, send now, pause) are in issue_pages.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from csp.constants import NONCE
from csp.decorators import csp_update
from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.contrib.admin.widgets import RelatedFieldWidgetWrapper
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.safestring import SafeString
from django.utils.text import Truncator

from digest import send_limits, services
from digest.admin.issue_curation import (
    CANDIDATE_SORT_PARAM,
    IssueCurationAdmin,
    IssuePaperAutocomplete,
    candidate_action_url,
)
from digest.admin.issue_pages import plural
from digest.ledger import OPEN_STATUSES
from digest.models import DeliveryStatus, Issue, IssueHide, IssueKind, IssuePin, IssueStatus
from digest.selectors import (
    ISSUE_COUNT_NAMES,
    ISSUE_LIST_COUNTS,
    Candidate,
    VoteCounts,
    delivery_count_queued,
    issue_candidate_list,
    issue_counts,
    issue_counts_by_id,
    issue_get_locked,
    issue_is_frozen,
    issue_is_published,
    issue_vote_counts,
)

# The change form's figures: the ledger's statuses, then the provider's events.
COUNTS_SHOWN = list(ISSUE_COUNT_NAMES)


# The change form's candidates, in their trending order or sorted by the readers' votes
# (?votes=more|less, CANDIDATE_SORT_PARAM).
CANDIDATE_SORTS = {"": "trending", "more": "most 👍", "less": "most 👎"}
_CANDIDATE_SORT = "_digest_candidate_sort"
_MAY_CURATE = "_digest_may_curate"  # the user may pin and hide on this page
_SORT_ANCHOR = "candidates-sort"  # the sorted page opens at the candidates
_NO_VOTES = VoteCounts()


def candidates_sorted(
    candidates: list[Candidate], votes: dict[str, VoteCounts], *, sort: str
) -> list[Candidate]:
    """The candidates by most 👍 ("more") or 👎 ("less"), ties in trending order; else as is."""
    if sort not in ("more", "less"):
        return candidates

    def count(candidate: Candidate) -> int:
        return int(getattr(votes.get(candidate.paper.arxiv_id, _NO_VOTES), sort))

    # sorted() is stable: papers with as many votes keep their trending order.
    return sorted(candidates, key=count, reverse=True)


def _candidate_sort_links(issue: Issue, current: str) -> SafeString:
    """The line "Sort: trending · most 👍 · most 👎", its current order in bold, not linked."""
    url = reverse("admin:digest_issue_change", args=[issue.pk])
    current = current if current in CANDIDATE_SORTS else ""
    links = [
        format_html("<strong>{}</strong>", label)
        if key == current
        else format_html(
            '<a href="{}{}" class="issue-sort-{}">{}</a>',
            url,
            f"?{urlencode({CANDIDATE_SORT_PARAM: key})}#{_SORT_ANCHOR}"
            if key
            else f"#{_SORT_ANCHOR}",
            key or "trending",
            label,
        )
        for key, label in CANDIDATE_SORTS.items()
    ]
    return format_html(
        '<p class="issue-candidates-sort" id="{}" style="margin:0 0 6px">Sort: {}</p>',
        _SORT_ANCHOR,
        SafeString(" · ".join(links)),
    )


class _CandidateTools:
    """A candidate's Pin or Unpin and Hide or Unhide buttons, posting by the change form's side.

    The candidates are inside the change form, and forms do not nest: the buttons belong to the
    empty form after it (change_form.html) by their form attribute, so a click sends only the
    CSRF token and the paper, never the editor's unsaved note.
    """

    FORM_ID = "issue-candidate-action"
    _TITLES = {
        "pin": "Put it first in every reader's digest of this issue",
        "unpin": "Take it out of this issue's pins",
        "hide": "Leave it out of this issue",
        "unhide": "Let it back into this issue",
    }
    _STYLE = "padding:2px 8px;margin:0 4px 0 0;font-size:0.75rem;min-width:5.2em;cursor:pointer"

    def __init__(self, issue: Issue, sort: str) -> None:
        self.urls = {
            action: candidate_action_url(issue, action, sort)
            for action in ("pin", "unpin", "hide", "unhide")
        }

    def buttons(self, candidate: Candidate) -> SafeString:
        pin = "unpin" if candidate.pinned else "pin"
        hide = "unhide" if candidate.hidden_in_issue else "hide"
        return format_html(
            '<span class="issue-candidate-tools" style="white-space:nowrap">{}{}</span>',
            self._button(pin, candidate),
            self._button(hide, candidate),
        )

    def _button(self, action: str, candidate: Candidate) -> SafeString:
        return format_html(
            '<button type="submit" form="{}" formaction="{}" name="paper" value="{}"'
            ' class="button issue-candidate-{}" style="{}" title="{}">{}</button>',
            self.FORM_ID,
            self.urls[action],
            candidate.paper.pk,
            action,
            self._STYLE,
            self._TITLES[action],
            action.capitalize(),
        )


class IssueChangeList(ChangeList):
    """The changelist, with each listed issue's delivery figures as `issue.counts` (one query)."""

    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        issues = list(self.result_list)
        counts = issue_counts_by_id(issues=issues)
        for issue in issues:
            issue.counts = counts[issue.pk]
        self.result_list = issues


# --- Inlines -------------------------------------------------------------------------------------


class FrozenOnceSendingInline(admin.TabularInline):
    """Editable while the issue is a draft or scheduled with no reader due yet; read-only after."""

    extra = 0
    autocomplete_fields = ["paper"]
    template = "admin/digest/issue/tabular.html"

    def formfield_for_foreignkey(
        self, db_field: Any, request: HttpRequest, **kwargs: Any
    ) -> forms.ModelChoiceField | None:
        if db_field.name == "paper":
            # The issue's own paper search, its candidates first (its URL is set per issue below).
            kwargs["widget"] = IssuePaperAutocomplete(
                db_field, self.admin_site, using=kwargs.get("using")
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_formset(self, request: HttpRequest, obj: Issue | None = None, **kwargs: Any) -> Any:
        formset = super().get_formset(request, obj, **kwargs)
        field = formset.form.base_fields.get("paper")
        widget = field.widget if field is not None else None
        if isinstance(widget, RelatedFieldWidgetWrapper):
            widget = widget.widget
        if obj is not None and isinstance(widget, IssuePaperAutocomplete):
            widget.issue_url = reverse("admin:digest_issue_papers", args=[obj.pk])
        return formset

    def formfield_for_dbfield(
        self, db_field: Any, request: HttpRequest, **kwargs: Any
    ) -> forms.Field | None:
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if field is not None and db_field.name == "paper":
            # Papers are pinned here, not written: no "add" or "change" paper buttons; and titles
            # are long.
            widget = field.widget
            if isinstance(widget, RelatedFieldWidgetWrapper):
                widget.can_add_related = widget.can_change_related = widget.can_delete_related = (
                    False
                )
                widget = widget.widget
            widget.attrs["data-width"] = "42em"
        return field

    def has_add_permission(self, request: HttpRequest, obj: Issue | None = None) -> bool:
        return not issue_is_frozen(issue=obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Issue | None = None) -> bool:
        return not issue_is_frozen(issue=obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Issue | None = None) -> bool:
        return not issue_is_frozen(issue=obj) and super().has_delete_permission(request, obj)


class IssuePinInline(FrozenOnceSendingInline):
    model = IssuePin
    fields = ["paper", "position"]
    ordering = ["position", "id"]
    verbose_name = "pinned paper"
    verbose_name_plural = "Pinned papers: first in every reader's digest, lowest position first"


class IssueHideInline(FrozenOnceSendingInline):
    model = IssueHide
    fields = ["paper"]
    verbose_name = "hidden paper"
    verbose_name_plural = "Hidden papers: left out of this issue (a pin wins over a hide)"


# --- The issue -----------------------------------------------------------------------------------


class PausedFilter(admin.SimpleListFilter):
    title = "paused"
    parameter_name = "paused"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("yes", "Paused"), ("no", "Not paused")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Issue]) -> QuerySet[Issue]:
        if self.value() in ("yes", "no"):
            return queryset.filter(paused_at__isnull=self.value() == "no")
        return queryset


# Soft hyphens let the longest headers break (see change_list.html), so the figures fit beside the
# filters.
_COUNT_HEADERS = {
    "delivered": "deliv\u00adered",
    "complained": "com\u00adplained",
    "bounced": "boun\u00adced",
}


def _count_column(name: str) -> Callable[[Any, Issue], Any]:
    @admin.display(description=_COUNT_HEADERS.get(name, name))
    def column(self: Any, issue: Issue) -> Any:
        value = getattr(issue, "counts", {}).get(name, 0)
        if name == "failed" and value:
            # Failed deliveries are one click away, with their errors.
            url = reverse("admin:digest_delivery_changelist")
            params: dict[str, int | str] = {
                "issue__id__exact": issue.pk,
                "status__exact": DeliveryStatus.FAILED,
            }
            query = urlencode(params)
            return format_html(
                '<a href="{}?{}" style="color:var(--error-fg);font-weight:700">{}</a>',
                url,
                query,
                value,
            )
        return value

    column.__name__ = name
    return column


def limits_lines(status: send_limits.LimitsStatus, queued: int) -> list[tuple[str]]:
    """What the sending limits do now, a line each: the rate, and today's cap (UTC) with its use."""
    lines = [f"Sending at most {status.rate:,} messages per second."] if status.rate else []
    warmup = ""
    if status.warmup_day is not None:
        warmup = f" (warm-up day {status.warmup_day[0]} of {status.warmup_day[1]})"
    if status.cap is None:
        lines.append("No daily sending cap.")
    elif status.sent_today is None:
        lines.append(
            f"Daily sending cap{warmup}: {status.cap:,} today (UTC); how many went is unknown: "
            "the limits' store (Redis) cannot be reached."
        )
    elif status.sent_today >= status.cap:
        later = f"; {queued:,} queued go out after 00:00 UTC" if queued else ""
        lines.append(
            f"Daily sending cap reached{warmup}: {status.sent_today:,} of {status.cap:,} today "
            f"(UTC){later}."
        )
    else:
        lines.append(
            f"Daily sending cap{warmup}: {status.sent_today:,} of {status.cap:,} sent today (UTC)."
        )
    if not status.rate:
        lines.insert(0, "No sending rate: batches go as fast as the provider takes them.")
    return [(line,) for line in lines]


@admin.register(Issue)
class IssueAdmin(IssueCurationAdmin):
    change_form_template = "admin/digest/issue/change_form.html"
    change_list_template = "admin/digest/issue/change_list.html"
    # The kind and the candidates share the date's cell, the pause the status's: the figures fit
    # beside the filters.
    list_display = ["issue", "state", *ISSUE_LIST_COUNTS]
    list_filter = ["status", "kind", PausedFilter, "date"]
    date_hierarchy = "date"
    ordering = ["-date", "kind"]
    actions = ["pause_issues", "resume_issues"]
    inlines = [IssuePinInline, IssueHideInline]
    fieldsets = [
        (None, {"fields": ["date", "kind", "status", "pause_state"]}),
        ("Editor's note", {"fields": ["note"]}),
        ("Delivery", {"fields": ["counts_table", "sending_limits"]}),
        ("Candidates", {"fields": ["window", "new_papers", "quiet", "candidate_list"]}),
        (
            "Record",
            {
                "fields": ["built_at", "sending_at", "sent_at", "updated_at"],
                "classes": ["collapse"],
            },
        ),
    ]
    readonly_fields = [
        "date",
        "kind",
        "status",
        "pause_state",
        "counts_table",
        "sending_limits",
        "window",
        "new_papers",
        "quiet",
        "candidate_list",
        "built_at",
        "sending_at",
        "sent_at",
        "updated_at",
    ]
    formfield_overrides = {
        models.TextField: {"widget": forms.Textarea(attrs={"rows": 4, "cols": 80})}
    }

    due = _count_column("due")
    sent = _count_column("sent")
    failed = _count_column("failed")
    delivered = _count_column("delivered")
    opened = _count_column("opened")
    clicked = _count_column("clicked")
    bounced = _count_column("bounced")
    complained = _count_column("complained")

    # Issues are built by the hourly tick (or `manage.py build_issue`) and never deleted: deleting
    # one would drop its ledger, and with it the record of who has had it.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Issue | None = None) -> bool:
        return False

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return IssueChangeList

    # The list's <style> block (narrow figure columns, so that they fit beside the filters) passes
    # by nonce.
    @method_decorator(csp_update({"style-src": [NONCE]}))
    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        context = {"may_build": self.has_build_permission(request), **(extra_context or {})}
        return super().changelist_view(request, context)

    def get_object(
        self, request: HttpRequest, object_id: str, from_field: str | None = None
    ) -> Issue | None:
        issue = super().get_object(request, object_id, from_field)
        if issue is not None:
            # The candidates' order asked for (?votes=more|less), kept on this request's instance:
            # the read-only field that lists them is given the issue, not the request.
            vars(issue)[_CANDIDATE_SORT] = request.GET.get(CANDIDATE_SORT_PARAM, "")
            vars(issue)[_MAY_CURATE] = self.has_change_permission(request, issue)
        if (
            issue is not None
            and request.method == "POST"
            and request.resolver_match is not None
            and request.resolver_match.url_name == "digest_issue_change"
        ):
            # The change form saves in one transaction: holding the row there means no reader can
            # be made due (their ledger rows reference it) between the "not sending yet" check and
            # the save.
            issue = issue_get_locked(issue_id=issue.pk)
        return issue

    def get_readonly_fields(self, request: HttpRequest, obj: Issue | None = None) -> list[str]:
        frozen = ["note"] if issue_is_frozen(issue=obj) else []
        return [*self.readonly_fields, *frozen]

    def save_model(
        self, request: HttpRequest, obj: Issue, form: forms.ModelForm, change: bool
    ) -> None:
        # Only the note is the editor's: the status and the pause belong to the worker and the
        # buttons.
        if not issue_is_frozen(issue=obj):
            obj.save(update_fields=["note", "updated_at"])

    def view_on_site(self, issue: Issue) -> str | None:
        if not issue_is_published(issue=issue):
            return None
        url = reverse("digest:issue", kwargs={"day": issue.date})
        return f"{url}?kind={issue.kind}" if issue.kind != IssueKind.DAILY else url

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Issue | None = None,
    ) -> HttpResponse:
        if obj is not None:
            frozen = issue_is_frozen(issue=obj)
            context.update(frozen=frozen, tools=self._buttons(obj))
            if frozen:
                context.update(show_save=False, show_save_and_continue=False)
        return super().render_change_form(request, context, add, change, form_url, obj)

    @staticmethod
    def _buttons(issue: Issue) -> dict[str, bool]:
        """The buttons that make sense for this issue now."""
        paused = issue.paused_at is not None
        return {
            "schedule": issue.status == IssueStatus.DRAFT,
            "hold": issue.status == IssueStatus.SCHEDULED and not issue_is_frozen(issue=issue),
            "send_now": issue.status in OPEN_STATUSES and not paused,
            "pause": issue.status != IssueStatus.SENT and not paused,
            "resume": paused,
        }

    # --- Columns and read-only fields ---

    @admin.display(description="issue", ordering="date")
    def issue(self, issue: Issue) -> SafeString:
        return format_html(
            '<span style="white-space:nowrap">{}</span><br><span class="help">{} · {}</span>',
            f"{issue.date:%Y-%m-%d}",
            issue.kind,
            plural(len(issue.candidate_ids or []), "candidate"),
        )

    @admin.display(description="status", ordering="status")
    def state(self, issue: Issue) -> SafeString | str:
        if issue.paused_at is None:
            return issue.get_status_display()
        return format_html(
            # The admin's own error colour: legible on its light and its dark background alike.
            '{} · <strong title="{}" style="color:var(--error-fg)">paused</strong>',
            issue.get_status_display(),
            issue.pause_reason,
        )

    @admin.display(description="candidates")
    def candidates(self, issue: Issue) -> int:
        return len(issue.candidate_ids or [])

    @admin.display(description="paused")
    def pause_state(self, issue: Issue) -> str:
        if issue.paused_at is None:
            return "No"
        return (
            f"Since {issue.paused_at:%Y-%m-%d %H:%M} UTC: {issue.pause_reason or 'no reason given'}"
        )

    @admin.display(description="window")
    def window(self, issue: Issue) -> str:
        return f"{issue.window_start:%Y-%m-%d %H:%M} → {issue.window_end:%Y-%m-%d %H:%M} UTC"

    @admin.display(description="figures")
    def counts_table(self, issue: Issue) -> SafeString:
        counts = issue_counts(issue=issue)
        ledger = self._counts_table(issue, counts, "Ledger", COUNTS_SHOWN[:6])
        provider = self._counts_table(issue, counts, "Provider events", COUNTS_SHOWN[6:])
        return format_html(
            '<div style="display:flex;flex-wrap:wrap;gap:8px 32px">{}{}</div>', ledger, provider
        )

    @admin.display(description="sending limits")
    def sending_limits(self, issue: Issue) -> SafeString:
        status = send_limits.send_limits_status(now=timezone.now())
        queued = delivery_count_queued(issue_id=issue.pk) if status.cap is not None else 0
        return format_html_join(
            "", '<p class="issue-send-limits" style="margin:0">{}</p>', limits_lines(status, queued)
        )

    @staticmethod
    def _counts_table(
        issue: Issue, counts: dict[str, int], caption: str, names: list[str]
    ) -> SafeString:
        """One table of figures, each linked to the deliveries it counts."""
        url = reverse("admin:digest_delivery_changelist")
        links = []
        for name in names:
            query: dict[str, int | str] = {"issue__id__exact": issue.pk}
            if name in DeliveryStatus.values:
                query["status__exact"] = name
            links.append((name, url, urlencode(query), counts[name]))
        head = format_html_join("", '<th scope="col">{}</th>', ((name,) for name in names))
        body = format_html_join("", '<td data-count="{}"><a href="{}?{}">{}</a></td>', links)
        return format_html(
            '<table class="issue-counts"><caption style="caption-side:top;text-align:left;'
            "padding:0 0 4px;background:none;color:var(--body-quiet-color);font-size:0.8125rem;"
            'font-weight:600;text-transform:none">'
            "{}</caption><thead><tr>{}</tr></thead><tbody><tr>{}</tr></tbody></table>",
            caption,
            head,
            body,
        )

    @admin.display(description="candidates")
    def candidate_list(self, issue: Issue) -> SafeString | str:
        if not issue.candidate_ids:
            return "None: no paper was trending in the window."
        sort = str(vars(issue).get(_CANDIDATE_SORT, ""))
        votes = issue_vote_counts(issue=issue)
        candidates = candidates_sorted(issue_candidate_list(issue=issue), votes, sort=sort)
        may_curate = vars(issue).get(_MAY_CURATE) and not issue_is_frozen(issue=issue)
        tools = _CandidateTools(issue, sort) if may_curate else None
        rows = [
            self._candidate_row(c, votes.get(c.paper.arxiv_id, _NO_VOTES), tools)
            for c in candidates
        ]
        return format_html(
            '{}<ol class="issue-candidates" style="margin:0;padding-left:2em">{}</ol>',
            _candidate_sort_links(issue, sort),
            SafeString("".join(rows)),
        )

    @staticmethod
    def _candidate_row(
        candidate: Candidate, votes: VoteCounts, tools: _CandidateTools | None
    ) -> str:
        paper = candidate.paper
        marks = [
            label
            for label, on in (
                ("pinned", candidate.pinned),
                ("hidden in this issue", candidate.hidden_in_issue),
                ("hidden site-wide", paper.hidden),
                ("withdrawn", paper.withdrawn_at is not None),
            )
            if on
        ]
        return format_html(
            '<li id="candidate-{}" style="list-style:decimal;margin:0 0 4px">{}<a href="{}">{}</a>'
            " · {} · {}"
            ' · <span class="issue-votes" title="readers of this issue who asked for more, and'
            ' for less, like it">👍&nbsp;{} 👎&nbsp;{}</span>{}</li>',
            paper.pk,
            tools.buttons(candidate) if tools is not None else "",
            reverse("admin:papers_paper_change", args=[paper.pk]),
            Truncator(paper.title).chars(110),
            plural(paper.upvotes, "upvote"),
            paper.arxiv_id,
            votes.more,
            votes.less,
            format_html(" · <strong>{}</strong>", ", ".join(marks)) if marks else "",
        )

    # --- Changelist actions ---

    @admin.action(description="Pause selected issues")
    def pause_issues(self, request: HttpRequest, queryset: QuerySet[Issue]) -> None:
        reason = f"paused by {request.user.get_username()}"
        done = sum(services.issue_pause(issue=issue, reason=reason) for issue in queryset)
        self.message_user(
            request,
            f"Paused {plural(done, 'issue')}.",
            messages.SUCCESS if done else messages.WARNING,
        )

    @admin.action(description="Resume selected issues")
    def resume_issues(self, request: HttpRequest, queryset: QuerySet[Issue]) -> None:
        done = sum(services.issue_resume(issue=issue) for issue in queryset)
        self.message_user(
            request,
            f"Resumed {plural(done, 'issue')}.",
            messages.SUCCESS if done else messages.WARNING,
        )
