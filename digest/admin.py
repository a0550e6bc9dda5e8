"""Editors' admin for the digest: curate an issue, preview it as a reader, test it, send it, pause it; read the ledger.

Every change of state goes through digest.services and digest.tasks (the same conditional
updates the worker uses), by POST with a CSRF token; a GET only ever shows a page. Once an
issue has started going out, its pins, hides and note are frozen: readers of one issue must
all get the same issue.
"""

from __future__ import annotations

import smtplib
from collections.abc import Callable
from typing import Any

from anymail.exceptions import AnymailError
from csp.constants import NONCE, SELF
from csp.decorators import csp_replace, csp_update
from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.db import models, transaction
from django.db.models import Count, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.decorators import method_decorator
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.safestring import SafeString
from django.utils.text import Truncator
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_POST

from digest import services
from digest.ledger import OPEN_STATUSES, issue_counts, readers_of_issue
from digest.models import Delivery, DeliveryStatus, Issue, IssueHide, IssueKind, IssuePin, IssueStatus
from digest.preview import Preview, issue_preview, issue_send_test
from digest.tasks import issue_send_now
from papers.models import Paper
from subscriptions.models import DIGEST_SIZE_DEFAULT, DIGEST_SIZE_MAX, DIGEST_SIZE_MIN, INTERESTS_MAX_CHARS, Subscriber
from subscriptions.selectors import subscriber_find_by_email

# The per-issue figures of the changelist, counted from the ledger.
COUNTS: dict[str, Q | None] = {
    "due": None,
    "sent": Q(status=DeliveryStatus.SENT),
    "failed": Q(status=DeliveryStatus.FAILED),
    "delivered": Q(delivered_at__isnull=False),
    "opened": Q(opened_at__isnull=False),
    "clicked": Q(clicked_at__isnull=False),
    "bounced": Q(bounced_at__isnull=False),
    "complained": Q(complained_at__isnull=False),
}
COUNTS_SHOWN = ["due", "queued", "sending", "sent", "failed", "skipped", *list(COUNTS)[3:]]
FROZEN_STATUSES = (IssueStatus.SENDING, IssueStatus.SENT)


def issues_counts(*, issue_ids: list[int]) -> dict[int, dict[str, int]]:
    """{issue id: {"due": …, "sent": …, … "complained": …}} for these issues, in one grouped query.

    Only the listed page's issues are counted (over the ledger's issue index), never the whole
    ledger: a join annotated onto the changelist's queryset would also weigh on its COUNT(*) and
    date queries, over every delivery ever made.
    """
    rows = (
        Delivery.objects.filter(issue_id__in=issue_ids)
        .order_by()
        .values("issue_id")
        .annotate(**{name: Count("id", filter=condition) for name, condition in COUNTS.items()})
    )
    found = {row.pop("issue_id"): row for row in rows}
    return {pk: found.get(pk, dict.fromkeys(COUNTS, 0)) for pk in issue_ids}


class IssueChangeList(ChangeList):
    """The changelist, with each listed issue's delivery figures (one query for the page) as `issue.counts`."""

    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        issues = list(self.result_list)
        counts = issues_counts(issue_ids=[issue.pk for issue in issues])
        for issue in issues:
            issue.counts = counts[issue.pk]  # type: ignore[attr-defined]
        self.result_list = issues  # type: ignore[assignment]


def issue_frozen(issue: Issue | None) -> bool:
    """Whether the issue has started going out (its pins, hides and note can no longer change); cached on it."""
    if issue is None or issue.pk is None:
        return False
    if not hasattr(issue, "_admin_frozen"):
        issue._admin_frozen = issue.status in FROZEN_STATUSES or issue.deliveries.exists()  # type: ignore[attr-defined]
    return issue._admin_frozen  # type: ignore[attr-defined]


def issue_readers_to_send(*, issue: Issue) -> QuerySet[Subscriber]:
    """Who "send now" would add: deliverable readers of the issue's kind without a delivery of it yet."""
    return readers_of_issue(issue=issue).exclude(deliveries__issue=issue)


def issue_send_refusal(*, issue: Issue) -> str:
    """Why "send now" must not run for this issue, or "" when it may."""
    if issue.status == IssueStatus.DRAFT:
        return "This issue is a draft: schedule it (approve it) first, then send it."
    if issue.status not in OPEN_STATUSES:
        return "This issue has been sent and its day is over: it takes no new readers."
    if issue.paused_at is not None:
        return f"This issue is paused ({issue.pause_reason or 'no reason given'}): resume it first."
    return ""


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


# --- Forms ---------------------------------------------------------------------------------------


class PreviewForm(forms.Form):
    """Whose digest to preview: a subscriber, an interests text, or both (the text wins), and how many papers."""

    subscriber = forms.CharField(
        required=False, max_length=254, label="Subscriber", help_text="Email address or id; leave empty for anyone."
    )
    interests = forms.CharField(
        required=False,
        max_length=INTERESTS_MAX_CHARS,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
        help_text="Free text, as a reader writes it; empty: the subscriber's own, or trending only.",
    )
    size = forms.IntegerField(
        required=False, min_value=DIGEST_SIZE_MIN, max_value=DIGEST_SIZE_MAX, label="Papers", help_text="Digest size."
    )

    def clean_subscriber(self) -> Subscriber | None:
        value = self.cleaned_data["subscriber"].strip()
        if not value:
            return None
        found = Subscriber.objects.filter(pk=int(value)).first() if value.isdigit() else None
        found = found or subscriber_find_by_email(email=value)
        if found is None:
            raise forms.ValidationError("No subscriber has this email address or id.")
        return found

    def reader(self) -> tuple[Subscriber | None, str, int]:
        """The subscriber (if any), and the interests and size the preview ranks for."""
        subscriber = self.cleaned_data["subscriber"]
        interests = " ".join(self.cleaned_data["interests"].split())
        if not interests and subscriber is not None:
            interests = subscriber.interests
        size = self.cleaned_data["size"] or (subscriber.digest_size if subscriber else DIGEST_SIZE_DEFAULT)
        return subscriber, interests, size


class TestSendForm(forms.Form):
    interests = forms.CharField(required=False, max_length=INTERESTS_MAX_CHARS)
    size = forms.IntegerField(min_value=DIGEST_SIZE_MIN, max_value=DIGEST_SIZE_MAX)


class PauseForm(forms.Form):
    reason = forms.CharField(required=False, max_length=300, help_text="Shown on the issue; optional.")


# --- Inlines -------------------------------------------------------------------------------------


class FrozenOnceSendingInline(admin.TabularInline):
    """Editable while the issue is a draft or scheduled with no reader due yet; read-only after."""

    extra = 0
    autocomplete_fields = ["paper"]
    template = "admin/digest/issue/tabular.html"

    def formfield_for_dbfield(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> forms.Field | None:
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if field is not None and db_field.name == "paper":
            # Papers are pinned here, not written: no "add" or "change" paper buttons; and titles are long.
            wrapper = field.widget
            wrapper.can_add_related = wrapper.can_change_related = wrapper.can_delete_related = False  # type: ignore[attr-defined]
            getattr(wrapper, "widget", wrapper).attrs["data-width"] = "42em"
        return field

    def has_add_permission(self, request: HttpRequest, obj: Issue | None = None) -> bool:  # type: ignore[override]
        return not issue_frozen(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Issue | None = None) -> bool:  # type: ignore[override]
        return not issue_frozen(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Issue | None = None) -> bool:  # type: ignore[override]
        return not issue_frozen(obj) and super().has_delete_permission(request, obj)


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


# Soft hyphens let the longest headers break (see change_list.html), so the figures fit beside the filters.
_HEADERS = {"delivered": "deliv\u00adered", "complained": "com\u00adplained", "bounced": "boun\u00adced"}


def _count_column(name: str) -> Callable[[Any, Issue], Any]:
    @admin.display(description=_HEADERS.get(name, name))
    def column(self: Any, issue: Issue) -> Any:
        value = getattr(issue, "counts", {}).get(name, 0)
        if name == "failed" and value:
            # Failed deliveries are one click away, with their errors.
            url = reverse("admin:digest_delivery_changelist")
            query = urlencode({"issue__id__exact": issue.pk, "status__exact": DeliveryStatus.FAILED})
            return format_html('<a href="{}?{}" style="color:#b91c1c;font-weight:700">{}</a>', url, query, value)
        return value

    column.__name__ = name
    return column


@admin.register(Issue)
class IssueAdmin(admin.ModelAdmin):
    change_form_template = "admin/digest/issue/change_form.html"
    change_list_template = "admin/digest/issue/change_list.html"
    # The kind and the candidates share the date's cell, the pause the status's: the figures fit beside the filters.
    list_display = ["issue", "state", *COUNTS]
    list_filter = ["status", "kind", PausedFilter, "date"]
    date_hierarchy = "date"
    ordering = ["-date", "kind"]
    actions = ["pause_issues", "resume_issues"]
    inlines = [IssuePinInline, IssueHideInline]
    fieldsets = [
        (None, {"fields": ["date", "kind", "status", "pause_state"]}),
        ("Editor's note", {"fields": ["note"]}),
        ("Delivery", {"fields": ["counts_table"]}),
        ("Candidates", {"fields": ["window", "new_papers", "quiet", "candidate_list"]}),
        ("Record", {"fields": ["built_at", "sending_at", "sent_at", "updated_at"], "classes": ["collapse"]}),
    ]
    readonly_fields = [
        "date",
        "kind",
        "status",
        "pause_state",
        "counts_table",
        "window",
        "new_papers",
        "quiet",
        "candidate_list",
        "built_at",
        "sending_at",
        "sent_at",
        "updated_at",
    ]
    formfield_overrides = {models.TextField: {"widget": forms.Textarea(attrs={"rows": 4, "cols": 80})}}

    due = _count_column("due")
    sent = _count_column("sent")
    failed = _count_column("failed")
    delivered = _count_column("delivered")
    opened = _count_column("opened")
    clicked = _count_column("clicked")
    bounced = _count_column("bounced")
    complained = _count_column("complained")

    # Issues are built by the hourly tick (or `manage.py build_issue`) and never deleted: deleting one
    # would drop its ledger, and with it the record of who has had it.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Issue | None = None) -> bool:
        return False

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return IssueChangeList

    # The list's <style> block (narrow figure columns, so that they fit beside the filters) passes by nonce.
    @method_decorator(csp_update({"style-src": [NONCE]}))
    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        return super().changelist_view(request, extra_context)

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None) -> Issue | None:
        issue = super().get_object(request, object_id, from_field)
        if issue is not None and request.method == "POST" and request.resolver_match.url_name == "digest_issue_change":
            # The change form saves in one transaction: holding the row there means no reader can be
            # made due (their ledger rows reference it) between the "not sending yet" check and the save.
            issue = Issue.objects.select_for_update().get(pk=issue.pk)
        return issue

    def get_readonly_fields(self, request: HttpRequest, obj: Issue | None = None) -> list[str]:
        frozen = ["note"] if issue_frozen(obj) else []
        return [*self.readonly_fields, *frozen]

    def save_model(self, request: HttpRequest, obj: Issue, form: forms.ModelForm, change: bool) -> None:
        # Only the note is the editor's: the status and the pause belong to the worker and the buttons.
        if not issue_frozen(obj):
            obj.save(update_fields=["note", "updated_at"])

    def view_on_site(self, issue: Issue) -> str | None:  # type: ignore[override]
        from digest.views import issue_list_published

        if not issue_list_published().filter(pk=issue.pk).exists():
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
            frozen = issue_frozen(obj)
            context.update(frozen=frozen, tools=self._tools(obj))
            if frozen:
                context.update(show_save=False, show_save_and_continue=False)
        return super().render_change_form(request, context, add, change, form_url, obj)

    @staticmethod
    def _tools(issue: Issue) -> dict[str, bool]:
        """The buttons that make sense for this issue now."""
        paused = issue.paused_at is not None
        return {
            "schedule": issue.status == IssueStatus.DRAFT,
            "hold": issue.status == IssueStatus.SCHEDULED and not issue_frozen(issue),
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
            _plural(len(issue.candidate_ids or []), "candidate"),
        )

    @admin.display(description="status", ordering="status")
    def state(self, issue: Issue) -> SafeString | str:
        if issue.paused_at is None:
            return issue.get_status_display()
        return format_html(
            '{} · <strong title="{}" style="color:#b91c1c">paused</strong>',
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
        return f"Since {issue.paused_at:%Y-%m-%d %H:%M} UTC: {issue.pause_reason or 'no reason given'}"

    @admin.display(description="window")
    def window(self, issue: Issue) -> str:
        return f"{issue.window_start:%Y-%m-%d %H:%M} → {issue.window_end:%Y-%m-%d %H:%M} UTC"

    @admin.display(description="figures")
    def counts_table(self, issue: Issue) -> SafeString:
        counts = issue_counts(issue=issue)
        ledger = self._counts_part(issue, counts, "Ledger", COUNTS_SHOWN[:6])
        provider = self._counts_part(issue, counts, "Provider events", COUNTS_SHOWN[6:])
        return format_html('<div style="display:flex;flex-wrap:wrap;gap:8px 32px">{}{}</div>', ledger, provider)

    @staticmethod
    def _counts_part(issue: Issue, counts: dict[str, int], caption: str, names: list[str]) -> SafeString:
        """One table of figures, each linked to the deliveries it counts."""
        url = reverse("admin:digest_delivery_changelist")
        links = []
        for name in names:
            query = {"issue__id__exact": issue.pk}
            if name in DeliveryStatus.values:
                query["status__exact"] = name
            links.append((name, url, urlencode(query), counts[name]))
        head = format_html_join("", '<th scope="col">{}</th>', ((name,) for name in names))
        body = format_html_join("", '<td data-count="{}"><a href="{}?{}">{}</a></td>', links)
        return format_html(
            '<table class="issue-counts"><caption style="caption-side:top;text-align:left;padding:0 0 4px;'
            'background:none;color:var(--body-quiet-color);font-size:0.8125rem;font-weight:600;text-transform:none">'
            "{}</caption><thead><tr>{}</tr></thead><tbody><tr>{}</tr></tbody></table>",
            caption,
            head,
            body,
        )

    @admin.display(description="candidates")
    def candidate_list(self, issue: Issue) -> SafeString | str:
        ids = issue.candidate_ids or []
        if not ids:
            return "None: no paper was trending in the window."
        papers = Paper.objects.only("pk", "arxiv_id", "title", "upvotes", "hidden", "withdrawn_at").in_bulk(
            ids, field_name="arxiv_id"
        )
        pinned = set(issue.pins.values_list("paper__arxiv_id", flat=True))
        hidden = set(issue.hides.values_list("paper__arxiv_id", flat=True))
        rows = [self._candidate_row(papers[i], pinned, hidden) for i in ids if i in papers]
        return format_html(
            '<ol class="issue-candidates" style="margin:0;padding-left:2em">{}</ol>', SafeString("".join(rows))
        )

    @staticmethod
    def _candidate_row(paper: Paper, pinned: set[str], hidden: set[str]) -> str:
        marks = [
            label
            for label, on in (
                ("pinned", paper.arxiv_id in pinned),
                ("hidden in this issue", paper.arxiv_id in hidden),
                ("hidden site-wide", paper.hidden),
                ("withdrawn", paper.withdrawn_at is not None),
            )
            if on
        ]
        return format_html(
            '<li style="list-style:decimal;margin:0 0 2px"><a href="{}">{}</a> · {} · {}{}</li>',
            reverse("admin:papers_paper_change", args=[paper.pk]),
            Truncator(paper.title).chars(110),
            _plural(paper.upvotes, "upvote"),
            paper.arxiv_id,
            format_html(" · <strong>{}</strong>", ", ".join(marks)) if marks else "",
        )

    # --- Changelist actions ---

    @admin.action(description="Pause selected issues")
    def pause_issues(self, request: HttpRequest, queryset: QuerySet[Issue]) -> None:
        reason = f"paused by {request.user.get_username()}"
        done = sum(services.issue_pause(issue=issue, reason=reason) for issue in queryset)
        self.message_user(request, f"Paused {_plural(done, 'issue')}.", messages.SUCCESS if done else messages.WARNING)

    @admin.action(description="Resume selected issues")
    def resume_issues(self, request: HttpRequest, queryset: QuerySet[Issue]) -> None:
        done = sum(services.issue_resume(issue=issue) for issue in queryset)
        self.message_user(request, f"Resumed {_plural(done, 'issue')}.", messages.SUCCESS if done else messages.WARNING)

    # --- The issue's own pages ---

    def get_urls(self) -> list[URLPattern]:
        def view(function: Callable[..., HttpResponseBase], name: str, suffix: str) -> URLPattern:
            return path(
                f"<path:object_id>/{suffix}/", self.admin_site.admin_view(function), name=f"digest_issue_{name}"
            )

        email = xframe_options_sameorigin(
            # The email's <style> blocks (dark mode, phones) pass by nonce; only the admin may frame it.
            csp_replace({"style-src": [NONCE], "frame-ancestors": [SELF], "form-action": ["'none'"]})(
                self.preview_email_view
            )
        )
        return [
            view(self.preview_view, "preview", "preview"),
            view(email, "preview_email", "preview/email"),
            view(require_POST(self.send_test_view), "send_test", "send-test"),
            view(self.send_now_view, "send_now", "send-now"),
            view(self.pause_view, "pause", "pause"),
            view(require_POST(self.resume_view), "resume", "resume"),
            view(require_POST(self.schedule_view), "schedule", "schedule"),
            view(require_POST(self.hold_view), "hold", "hold"),
            *super().get_urls(),
        ]

    def _issue_for(self, request: HttpRequest, object_id: str) -> Issue:
        """The issue, if it exists and the user may change issues."""
        issue = self.get_object(request, object_id)
        if issue is None:
            raise Http404("No such issue.")
        if not self.has_change_permission(request, issue):
            raise PermissionDenied
        return issue

    def _page(self, request: HttpRequest, issue: Issue, template: str, title: str, **context: Any) -> TemplateResponse:
        base = {**self.admin_site.each_context(request), "opts": self.opts, "original": issue, "title": title}
        return TemplateResponse(request, f"admin/digest/issue/{template}", {**base, **context})

    def _back(self, issue: Issue) -> HttpResponseRedirect:
        return HttpResponseRedirect(reverse("admin:digest_issue_change", args=[issue.pk]))

    def preview_view(self, request: HttpRequest, object_id: str) -> TemplateResponse:
        """The digest a subscriber, or a reader with these interests, would get from this issue now."""
        issue = self._issue_for(request, object_id)
        form = PreviewForm(request.GET)
        context: dict[str, Any] = {
            "form": form,
            "user_email": request.user.email,  # type: ignore[union-attr]
            "embed_on_change": settings.PAPERBOY_EMBED_ON_CHANGE,
        }
        if form.is_valid():
            subscriber, interests, size = form.reader()
            preview = issue_preview(issue=issue, subscriber=subscriber, interests=interests, size=size)
            email_url = reverse("admin:digest_issue_preview_email", args=[issue.pk])
            context.update(
                preview=preview,
                rows=_pick_rows(preview),
                text=preview.parts.text,
                email_url=f"{email_url}?{request.GET.urlencode()}",
                test_form=TestSendForm(initial={"interests": interests, "size": size}),
                subscriber=subscriber,
                interests=interests,
                size=size,
            )
        return self._page(request, issue, "preview.html", f"Preview: {issue}", **context)

    def preview_email_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Only the previewed email's HTML, for the sandboxed frame of the preview page."""
        issue = self._issue_for(request, object_id)
        form = PreviewForm(request.GET)
        if not form.is_valid():
            return HttpResponse("This preview's form has errors.", status=400, content_type="text/plain")
        subscriber, interests, size = form.reader()
        html = issue_preview(issue=issue, subscriber=subscriber, interests=interests, size=size).parts.html
        # Links open in a new tab (the frame may open pop-ups that leave its sandbox), not inside the frame.
        html = html.replace("<head>", '<head><base target="_blank">', 1)
        nonce = getattr(request, "csp_nonce", None)
        if nonce is not None:
            # str() makes the nonce; "<style" only comes from our template (scraped text is escaped).
            html = html.replace("<style", f'<style nonce="{nonce!s}"')
        return HttpResponse(html, content_type="text/html; charset=utf-8")

    def send_test_view(self, request: HttpRequest, object_id: str) -> HttpResponseRedirect:
        """Send the previewed digest to the editor, marked [Test]; no reader and no ledger row involved."""
        issue = self._issue_for(request, object_id)
        form = TestSendForm(request.POST)
        to = request.user.email  # type: ignore[union-attr]
        preview_url = reverse("admin:digest_issue_preview", args=[issue.pk])
        if not form.is_valid():
            self.message_user(request, "The test was not sent: the interests or size were not valid.", messages.ERROR)
            return HttpResponseRedirect(preview_url)
        interests, size = form.cleaned_data["interests"], form.cleaned_data["size"]
        back = HttpResponseRedirect(f"{preview_url}?{urlencode({'interests': interests, 'size': size})}")
        if not to:
            self.message_user(request, "Your account has no email address: add one to your user first.", messages.ERROR)
            return back
        try:
            preview = issue_send_test(issue=issue, to=to, interests=interests, size=size)
        except (AnymailError, smtplib.SMTPException, OSError) as error:
            self.message_user(request, f"The test could not be sent: {error}", messages.ERROR)
            return back
        self.message_user(request, f"Test sent to {to} with {_plural(len(preview.picks), 'paper')}.", messages.SUCCESS)
        return back

    def send_now_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Ask (GET), then make every deliverable reader of the issue's kind due now and send (POST)."""
        issue = self._issue_for(request, object_id)
        refusal = issue_send_refusal(issue=issue)
        if refusal:
            self.message_user(request, f"Not sent. {refusal}", messages.ERROR)
            return self._back(issue)
        readers = issue_readers_to_send(issue=issue).count()
        if request.method != "POST":
            already = Delivery.objects.filter(issue=issue).count()
            return self._page(request, issue, "send_now.html", f"Send {issue} now?", readers=readers, already=already)
        transaction.on_commit(lambda: issue_send_now.delay(issue.pk))
        message = f"Sending {issue} now to {_plural(readers, 'more reader')}; the figures below fill in as it goes."
        self.message_user(request, message, messages.SUCCESS)
        return self._back(issue)

    def pause_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Ask for a reason (GET), then stop claiming the issue's deliveries (POST)."""
        issue = self._issue_for(request, object_id)
        form = PauseForm(request.POST if request.method == "POST" else None)
        if request.method != "POST" or not form.is_valid():
            return self._page(request, issue, "pause.html", f"Pause {issue}", form=form)
        reason = form.cleaned_data["reason"].strip() or f"paused by {request.user.get_username()}"
        if services.issue_pause(issue=issue, reason=reason):
            self.message_user(request, "Paused: no new batch will be claimed until it is resumed.", messages.SUCCESS)
        else:
            self.message_user(request, "This issue was already paused.", messages.WARNING)
        return self._back(issue)

    def resume_view(self, request: HttpRequest, object_id: str) -> HttpResponseRedirect:
        issue = self._issue_for(request, object_id)
        if services.issue_resume(issue=issue):
            self.message_user(request, "Resumed: its queued deliveries go out at the next tick.", messages.SUCCESS)
        else:
            self.message_user(request, "This issue was not paused.", messages.WARNING)
        return self._back(issue)

    def schedule_view(self, request: HttpRequest, object_id: str) -> HttpResponseRedirect:
        issue = self._issue_for(request, object_id)
        if services.issue_schedule(issue=issue):
            self.message_user(request, "Scheduled: it goes out at each reader's hour.", messages.SUCCESS)
        else:
            message = f"Only a draft can be scheduled; this issue is {issue.get_status_display().lower()}."
            self.message_user(request, message, messages.WARNING)
        return self._back(issue)

    def hold_view(self, request: HttpRequest, object_id: str) -> HttpResponseRedirect:
        issue = self._issue_for(request, object_id)
        if services.issue_hold(issue=issue):
            self.message_user(request, "Back to draft: nothing goes out until it is scheduled again.", messages.SUCCESS)
        elif issue.status != IssueStatus.SCHEDULED:
            message = f"Only a scheduled issue can go back to draft; this one is {issue.get_status_display().lower()}."
            self.message_user(request, message, messages.WARNING)
        else:
            due = Delivery.objects.filter(issue=issue).count()
            message = (
                f"Not held: {_plural(due, 'reader')} already due for it, so it has started going out. Pause it instead."
            )
            self.message_user(request, message, messages.WARNING)
        return self._back(issue)


def _pick_rows(preview: Preview) -> list[tuple[int, Paper | None, str, str]]:
    """(position, paper, arXiv id, reason) for each pick, the papers read in one query."""
    papers = Paper.objects.in_bulk([pick.arxiv_id for pick in preview.picks], field_name="arxiv_id")
    return [(n, papers.get(pick.arxiv_id), pick.arxiv_id, pick.reason) for n, pick in enumerate(preview.picks, 1)]


# --- The ledger ----------------------------------------------------------------------------------


def _mark(value: object) -> bool:
    return value is not None


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    """The send ledger, read-only: written by the sending batches and the provider's webhooks."""

    list_display = [
        "issue",
        "subscriber_email",
        "status",
        "attempts",
        "sent_at",
        "delivered",
        "opened",
        "clicked",
        "bounced",
        "complained",
        "short_error",
    ]
    list_filter = ["status", "issue"]
    list_select_related = ["issue", "subscriber"]
    search_fields = ["subscriber__email"]
    ordering = ["-pk"]
    list_per_page = 100
    show_full_result_count = False  # a COUNT(*) over the whole ledger on each page buys nothing

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Delivery | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Delivery | None = None) -> bool:
        return False

    @admin.display(description="subscriber", ordering="subscriber__email")
    def subscriber_email(self, delivery: Delivery) -> str:
        return delivery.subscriber.email

    @admin.display(description="error")
    def short_error(self, delivery: Delivery) -> str:
        return Truncator(delivery.error).chars(80)

    @admin.display(description="delivered", boolean=True, ordering="delivered_at")
    def delivered(self, delivery: Delivery) -> bool:
        return _mark(delivery.delivered_at)

    @admin.display(description="opened", boolean=True, ordering="opened_at")
    def opened(self, delivery: Delivery) -> bool:
        return _mark(delivery.opened_at)

    @admin.display(description="clicked", boolean=True, ordering="clicked_at")
    def clicked(self, delivery: Delivery) -> bool:
        return _mark(delivery.clicked_at)

    @admin.display(description="bounced", boolean=True, ordering="bounced_at")
    def bounced(self, delivery: Delivery) -> bool:
        return _mark(delivery.bounced_at)

    @admin.display(description="complained", boolean=True, ordering="complained_at")
    def complained(self, delivery: Delivery) -> bool:
        return _mark(delivery.complained_at)
