"""The issue's own pages in the admin: preview it as a reader, send a test, send now, pause.

IssueAdmin (digest/admin/issue.py) builds on this class; here are only the extra pages and
their URLs. Every change of state goes through digest.services and digest.tasks, by POST with
a CSRF token; a GET only ever shows a page.
"""

from __future__ import annotations

import smtplib
from collections.abc import Callable
from typing import Any

from anymail.exceptions import AnymailError
from csp.constants import NONCE, SELF
from csp.decorators import csp_replace
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.http import urlencode
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_POST

from digest import services
from digest.admin.forms import PauseForm, PreviewForm, TestSendForm
from digest.ledger import OPEN_STATUSES
from digest.models import Issue, IssueStatus
from digest.preview import Preview, issue_preview, issue_send_test
from digest.selectors import IssueReach, issue_delivery_count, issue_reach, papers_by_arxiv_id
from digest.tasks import issue_send_now
from papers.models import Paper


def issue_send_refusal(*, issue: Issue) -> str:
    """Why "send now" must not run for this issue, or "" when it may."""
    if issue.status == IssueStatus.DRAFT:
        return "This issue is a draft: schedule it (approve it) first, then send it."
    if issue.status not in OPEN_STATUSES:
        return "This issue has been sent and its day is over: it takes no new readers."
    if issue.paused_at is not None:
        return f"This issue is paused ({issue.pause_reason or 'no reason given'}): resume it first."
    return ""


def reach_summary(reach: IssueReach) -> str:
    """The subscribers "send now" leaves out, by reason, in a sentence."""
    if not reach.subscribers:
        return "Nobody has subscribed yet."
    parts = [f"{text.lower()}: {count}" for _, text, count in reach.left_out]
    return f"Of {plural(reach.subscribers, 'subscriber')}: {'; '.join(parts)}."


def _editor_email(request: HttpRequest) -> str:
    """The signed-in editor's email address; "" if their account has none."""
    # The admin's views only let signed-in staff through: the user is never anonymous here.
    if isinstance(request.user, AnonymousUser):
        return ""
    return request.user.email


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


class IssuePagesAdmin(admin.ModelAdmin):
    """The issue's pages beyond Django's change form, and their URLs."""

    def get_urls(self) -> list[URLPattern]:
        def view(function: Callable[..., HttpResponseBase], name: str, suffix: str) -> URLPattern:
            return path(
                f"<path:object_id>/{suffix}/",
                self.admin_site.admin_view(function),
                name=f"digest_issue_{name}",
            )

        email = xframe_options_sameorigin(
            # The email's <style> blocks (dark mode, phones) pass by nonce; only the admin may frame
            # it.
            csp_replace(
                {"style-src": [NONCE], "frame-ancestors": [SELF], "form-action": ["'none'"]}
            )(
                # django-csp types its decorators for views that take only the request; the
                # wrapper passes every argument on, so the view's object_id arrives.
                self.preview_email_view  # type: ignore[arg-type]
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

    def _issue_to_change(self, request: HttpRequest, object_id: str) -> Issue:
        """The issue, if it exists and the user may change issues."""
        issue = self.get_object(request, object_id)
        if issue is None:
            raise Http404("No such issue.")
        if not self.has_change_permission(request, issue):
            raise PermissionDenied
        return issue

    def _issue_page(
        self, request: HttpRequest, issue: Issue, template: str, title: str, **context: Any
    ) -> TemplateResponse:
        """One of the issue's own pages (preview, send now, pause), inside the admin's frame."""
        base = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": issue,
            "title": title,
        }
        return TemplateResponse(request, f"admin/digest/issue/{template}", {**base, **context})

    def _redirect_to_issue(self, issue: Issue) -> HttpResponseRedirect:
        """Back to the issue's change form, where the messages show."""
        return HttpResponseRedirect(reverse("admin:digest_issue_change", args=[issue.pk]))

    def preview_view(self, request: HttpRequest, object_id: str) -> TemplateResponse:
        """The digest a subscriber, or a reader with these interests, would now get from it."""
        issue = self._issue_to_change(request, object_id)
        form = PreviewForm(request.GET)
        context: dict[str, Any] = {
            "form": form,
            "user_email": _editor_email(request),
            "embed_on_change": settings.PAPERBOY_EMBED_ON_CHANGE,
        }
        if form.is_valid():
            subscriber, interests, size = form.reader()
            preview = issue_preview(
                issue=issue, subscriber=subscriber, interests=interests, size=size
            )
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
        return self._issue_page(request, issue, "preview.html", f"Preview: {issue}", **context)

    def preview_email_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Only the previewed email's HTML, for the sandboxed frame of the preview page."""
        issue = self._issue_to_change(request, object_id)
        form = PreviewForm(request.GET)
        if not form.is_valid():
            return HttpResponse(
                "This preview's form has errors.", status=400, content_type="text/plain"
            )
        subscriber, interests, size = form.reader()
        html = issue_preview(
            issue=issue, subscriber=subscriber, interests=interests, size=size
        ).parts.html
        # Links open in a new tab (the frame may open pop-ups that leave its sandbox), not inside
        # the frame.
        html = html.replace("<head>", '<head><base target="_blank">', 1)
        nonce = getattr(request, "csp_nonce", None)
        if nonce is not None:
            # str() makes the nonce; "<style" only comes from our template (scraped text is
            # escaped).
            html = html.replace("<style", f'<style nonce="{nonce!s}"')
        return HttpResponse(html, content_type="text/html; charset=utf-8")

    def send_test_view(self, request: HttpRequest, object_id: str) -> HttpResponseRedirect:
        """Send the previewed digest to the editor, marked [Test]; no reader, no ledger row."""
        issue = self._issue_to_change(request, object_id)
        form = TestSendForm(request.POST)
        to = _editor_email(request)
        preview_url = reverse("admin:digest_issue_preview", args=[issue.pk])
        if not form.is_valid():
            self.message_user(
                request,
                "The test was not sent: the interests or size were not valid.",
                messages.ERROR,
            )
            return HttpResponseRedirect(preview_url)
        interests, size = form.cleaned_data["interests"], form.cleaned_data["size"]
        back = HttpResponseRedirect(
            f"{preview_url}?{urlencode({'interests': interests, 'size': size})}"
        )
        if not to:
            self.message_user(
                request,
                "Your account has no email address: add one to your user first.",
                messages.ERROR,
            )
            return back
        try:
            preview = issue_send_test(issue=issue, to=to, interests=interests, size=size)
        except (AnymailError, smtplib.SMTPException, OSError) as error:
            self.message_user(request, f"The test could not be sent: {error}", messages.ERROR)
            return back
        self.message_user(
            request,
            f"Test sent to {to} with {plural(len(preview.picks), 'paper')}.",
            messages.SUCCESS,
        )
        return back

    def send_now_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Ask (GET), then make every deliverable reader of the issue's kind due now, and send."""
        issue = self._issue_to_change(request, object_id)
        refusal = issue_send_refusal(issue=issue)
        if refusal:
            self.message_user(request, f"Not sent. {refusal}", messages.ERROR)
            return self._redirect_to_issue(issue)
        reach = issue_reach(issue=issue)
        readers = reach.readers
        if request.method != "POST":
            already = issue_delivery_count(issue=issue)
            return self._issue_page(
                request,
                issue,
                "send_now.html",
                f"Send {issue} now?",
                readers=readers,
                already=already,
                reach=reach,
            )
        if not readers:
            # Nothing to send: the issue stays as it is (not "sending" with nobody to send to).
            self.message_user(
                request, f"Not sent: it would reach nobody. {reach_summary(reach)}", messages.ERROR
            )
            return self._redirect_to_issue(issue)
        transaction.on_commit(lambda: issue_send_now.delay(issue.pk))
        message = (
            f"Sending {issue} now to {plural(readers, 'more reader')}; "
            "the figures below fill in as it goes."
        )
        self.message_user(request, message, messages.SUCCESS)
        return self._redirect_to_issue(issue)

    def pause_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Ask for a reason (GET), then stop claiming the issue's deliveries (POST)."""
        issue = self._issue_to_change(request, object_id)
        form = PauseForm(request.POST if request.method == "POST" else None)
        if request.method != "POST" or not form.is_valid():
            return self._issue_page(request, issue, "pause.html", f"Pause {issue}", form=form)
        reason = form.cleaned_data["reason"].strip() or f"paused by {request.user.get_username()}"
        if services.issue_pause(issue=issue, reason=reason):
            self.message_user(
                request,
                "Paused: no new batch will be claimed until it is resumed.",
                messages.SUCCESS,
            )
        else:
            self.message_user(request, "This issue was already paused.", messages.WARNING)
        return self._redirect_to_issue(issue)

    def resume_view(self, request: HttpRequest, object_id: str) -> HttpResponseRedirect:
        issue = self._issue_to_change(request, object_id)
        if services.issue_resume(issue=issue):
            self.message_user(
                request, "Resumed: its queued deliveries go out at the next tick.", messages.SUCCESS
            )
        else:
            self.message_user(request, "This issue was not paused.", messages.WARNING)
        return self._redirect_to_issue(issue)

    def schedule_view(self, request: HttpRequest, object_id: str) -> HttpResponseRedirect:
        issue = self._issue_to_change(request, object_id)
        if services.issue_schedule(issue=issue):
            self.message_user(
                request, "Scheduled: it goes out at each reader's hour.", messages.SUCCESS
            )
        else:
            message = (
                "Only a draft can be scheduled; "
                f"this issue is {issue.get_status_display().lower()}."
            )
            self.message_user(request, message, messages.WARNING)
        return self._redirect_to_issue(issue)

    def hold_view(self, request: HttpRequest, object_id: str) -> HttpResponseRedirect:
        issue = self._issue_to_change(request, object_id)
        if services.issue_hold(issue=issue):
            self.message_user(
                request,
                "Back to draft: nothing goes out until it is scheduled again.",
                messages.SUCCESS,
            )
        elif issue.status != IssueStatus.SCHEDULED:
            message = (
                "Only a scheduled issue can go back to draft; "
                f"this one is {issue.get_status_display().lower()}."
            )
            self.message_user(request, message, messages.WARNING)
        else:
            due = issue_delivery_count(issue=issue)
            message = (
                f"Not held: {plural(due, 'reader')} already due for it, "
                "so it has started going out. Pause it instead."
            )
            self.message_user(request, message, messages.WARNING)
        return self._redirect_to_issue(issue)


def _pick_rows(preview: Preview) -> list[tuple[int, Paper | None, str, str]]:
    """(position, paper, arXiv id, reason) for each pick, the papers read in one query."""
    papers = papers_by_arxiv_id(arxiv_ids=[pick.arxiv_id for pick in preview.picks])
    return [
        (n, papers.get(pick.arxiv_id), pick.arxiv_id, pick.reason)
        for n, pick in enumerate(preview.picks, 1)
    ]
