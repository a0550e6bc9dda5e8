"""The forms of the issue's own admin pages: build it, pin and hide, preview, send a test, pause."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.utils import timezone

from digest.models import IssueKind
from digest.selectors import subscriber_find_by_email_or_id
from papers.models import Paper
from subscriptions.models import (
    DIGEST_SIZE_DEFAULT,
    DIGEST_SIZE_MAX,
    DIGEST_SIZE_MIN,
    INTERESTS_MAX_CHARS,
    Subscriber,
)


class PreviewForm(forms.Form):
    """Whose digest to preview: a subscriber, interests text, or both (the text wins); its size."""

    subscriber = forms.CharField(
        required=False,
        max_length=254,
        label="Subscriber",
        help_text="Email address or id; leave empty for anyone.",
    )
    interests = forms.CharField(
        required=False,
        max_length=INTERESTS_MAX_CHARS,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
        help_text=(
            "Free text, as a reader writes it; empty: the subscriber's own, or trending only."
        ),
    )
    size = forms.IntegerField(
        required=False,
        min_value=DIGEST_SIZE_MIN,
        max_value=DIGEST_SIZE_MAX,
        label="Papers",
        help_text="Digest size.",
    )

    def clean_subscriber(self) -> Subscriber | None:
        value = self.cleaned_data["subscriber"].strip()
        if not value:
            return None
        found = subscriber_find_by_email_or_id(value=value)
        if found is None:
            raise forms.ValidationError("No subscriber has this email address or id.")
        return found

    def reader(self) -> tuple[Subscriber | None, str, int]:
        """The subscriber (if any), and the interests and size the preview ranks for."""
        subscriber = self.cleaned_data["subscriber"]
        interests = " ".join(self.cleaned_data["interests"].split())
        if not interests and subscriber is not None:
            interests = subscriber.interests
        size = self.cleaned_data["size"] or (
            subscriber.digest_size if subscriber else DIGEST_SIZE_DEFAULT
        )
        return subscriber, interests, size


class TestSendForm(forms.Form):
    """The interests and size of the previewed digest that the editor sends to themselves."""

    interests = forms.CharField(required=False, max_length=INTERESTS_MAX_CHARS)
    size = forms.IntegerField(min_value=DIGEST_SIZE_MIN, max_value=DIGEST_SIZE_MAX)


class PauseForm(forms.Form):
    """Why the editor pauses the issue."""

    reason = forms.CharField(
        required=False, max_length=300, help_text="Shown on the issue; optional."
    )


# An issue's date: not before arXiv began, and at most this far ahead (its window would be empty).
BUILD_EARLIEST = dt.date(1991, 8, 14)
BUILD_DAYS_AHEAD = 7


class BuildForm(forms.Form):
    """The date and kind of the issue an editor builds."""

    date = forms.DateField(
        help_text="The issue covers the papers of the window before this date's build hour (UTC).",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    kind = forms.ChoiceField(
        choices=IssueKind.choices,
        initial=IssueKind.DAILY,
        help_text="Daily: for every-day and weekday readers. Weekly: for weekly readers, "
        "who get it on their Monday.",
    )

    def clean_date(self) -> dt.date:
        date: dt.date = self.cleaned_data["date"]
        latest = timezone.now().date() + dt.timedelta(days=BUILD_DAYS_AHEAD)
        if date < BUILD_EARLIEST:
            raise forms.ValidationError("There are no papers that old: arXiv began in 1991.")
        if date > latest:
            raise forms.ValidationError(
                f"At most {BUILD_DAYS_AHEAD} days ahead (until {latest:%Y-%m-%d}): "
                "a later window has no papers yet."
            )
        return date


class CandidatePaperForm(forms.Form):
    """The paper a candidate's Pin, Unpin, Hide or Unhide button names, by its id."""

    paper = forms.ModelChoiceField(
        queryset=Paper.objects.only("pk", "arxiv_id", "title"),
        error_messages={"invalid_choice": "No such paper.", "required": "No paper was named."},
    )
