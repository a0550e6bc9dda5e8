"""The forms of the issue's own admin pages: preview it as a reader, send a test of it, pause it."""

from __future__ import annotations

from django import forms

from digest.selectors import subscriber_find_by_email_or_id
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
