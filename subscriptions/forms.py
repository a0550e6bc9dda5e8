"""Sign-up and manage forms: strict validation, clear messages, cleaned values for the services."""

from __future__ import annotations

import copy
import re
import unicodedata
from functools import cache
from typing import Any, cast
from zoneinfo import available_timezones

from django import forms
from django.core.files.uploadedfile import UploadedFile
from django.core.validators import EmailValidator
from django.forms.utils import ErrorDict

from subscriptions import seeds
from subscriptions.addresses import AddressError, address_normalize
from subscriptions.models import (
    ARXIV_CATEGORIES,
    DELIVERY_HOUR_DEFAULT,
    DIGEST_SIZE_DEFAULT,
    DIGEST_SIZE_MAX,
    DIGEST_SIZE_MIN,
    INTERESTS_MAX_CHARS,
    LESS_OF_MAX_CHARS,
    PREFERENCE_FIELDS,
    Subscriber,
)
from subscriptions.services import Preferences

EMAIL_MAX_CHARS = 254  # RFC 5321's limit on a forward path
# Django's validator, minus its default allowance for bare "user@localhost".
_email_validator = EmailValidator(
    message="Enter a complete email address, like name@example.org.", allowlist=[]
)
_SPACES = re.compile(r"\s+")


@cache
def timezone_names() -> tuple[str, ...]:
    """Every IANA time zone name known here, sorted (zoneinfo's, without the legacy aliases)."""
    return tuple(sorted(name for name in available_timezones() if "/" in name or name == "UTC"))


def interests_clean(text: str) -> str:
    """Text made safe to store and show: no control or format characters, single spaces, trimmed."""
    kept = "".join(
        " " if char.isspace() else char
        for char in unicodedata.normalize("NFC", text)
        if char.isspace() or not unicodedata.category(char).startswith("C")
    )
    return _SPACES.sub(" ", kept).strip()


class StrictEmailField(forms.EmailField):
    """An address on one line, at most 254 characters, that Django's validator accepts.

    Cleaned to its one spelling (subscriptions.addresses), so that what is stored and counted
    is the same for every way of writing one mailbox.
    """

    default_validators = [_email_validator]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=EMAIL_MAX_CHARS, **kwargs)
        self.error_messages["max_length"] = (
            f"An email address has at most {EMAIL_MAX_CHARS} characters."
        )

    def to_python(self, value: object) -> str | None:
        # Checked before stripping: a CR or LF anywhere is a header-injection attempt, not a typo.
        if isinstance(value, str) and ("\r" in value or "\n" in value):
            raise forms.ValidationError("An email address fits on one line.", code="invalid")
        return super().to_python(value)

    def validate(self, value: str) -> None:
        super().validate(value)
        # Django accepts IP literals (user@[192.0.2.1]); no reader's mailbox lives at one.
        if "@[" in value:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")

    def clean(self, value: Any) -> str:
        address = super().clean(value)
        if not address:
            return ""
        try:
            address = address_normalize(address)
        except AddressError as error:
            raise forms.ValidationError(str(error), code="invalid") from error
        # Checked again: an international domain is longer in the ASCII form that is stored.
        if len(address) > EMAIL_MAX_CHARS:
            raise forms.ValidationError(self.error_messages["max_length"], code="max_length")
        return address


class _SharedChoices(forms.ChoiceField):
    """Choices that every form shares instead of copying: they never change.

    Django deep-copies each field (and its widget re-normalizes the choices) for every form it
    builds: for ~600 time zones that was most of a sign-up's CPU time.
    """

    def __deepcopy__(self, memo: dict[int, object]) -> Any:
        result = copy.copy(self)
        memo[id(self)] = result
        result.widget = copy.copy(self.widget)
        result.widget.attrs = self.widget.attrs.copy()
        result.error_messages = self.error_messages.copy()
        result.validators = self.validators[:]
        return result

    def valid_value(self, value: Any) -> bool:
        # A set lookup instead of Django's walk through every choice (600 time zones); the choices
        # here are flat, so "is one of the keys, as text" is the whole test. Made once per
        # choices list: the copies every form makes share it.
        # Django keeps choices as a list of pairs here; django-stubs type the getter as any input
        # the setter takes (a mapping, a Choices class, a callable).
        choices = cast("list[tuple[Any, str]]", self.choices)
        cached = getattr(self, "_valid_keys", None)
        if cached is None or cached[0] is not choices:
            cached = (choices, frozenset(str(key) for key, _ in choices))
            self._valid_keys = cached
        return str(value) in cached[1]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.valid_value("")  # the base field makes the set, and every form's copy shares it


class SharedChoiceField(_SharedChoices, forms.ChoiceField):
    pass


class SharedTypedChoiceField(_SharedChoices, forms.TypedChoiceField):
    pass


class SharedMultipleChoiceField(_SharedChoices, forms.MultipleChoiceField):
    pass


class CountedCharField(forms.CharField):
    """Text whose length the page counts as the reader types (static/js/counter.js), uncapped.

    A maxlength attribute would make the browser cut a longer paste without a word: the form
    says the text is too long instead, and the counter shows it before it is sent.
    """

    def widget_attrs(self, widget: forms.Widget) -> dict[str, Any]:
        attrs = super().widget_attrs(widget)
        attrs.pop("maxlength", None)
        if self.max_length is not None:
            attrs["data-max-chars"] = str(self.max_length)
        return attrs


class PreferencesForm(forms.Form):
    """What a reader wants: shared by the sign-up form and the manage page."""

    interests = CountedCharField(
        required=False,
        max_length=INTERESTS_MAX_CHARS,
        widget=forms.Textarea(
            attrs={"rows": 3, "placeholder": "3D human pose estimation, efficient LLM inference"}
        ),
        help_text="A few words or topics, separated by commas. Optional.",
        error_messages={
            "max_length": (
                f"Please keep your interests to {INTERESTS_MAX_CHARS} characters or fewer: "
                "this has %(show_value)d."
            )
        },
    )
    categories = SharedMultipleChoiceField(
        required=False,
        choices=[(code, f"{code} — {name}") for code, name in ARXIV_CATEGORIES.items()],
        widget=forms.CheckboxSelectMultiple,
        help_text=(
            "Optional: only papers in these arXiv categories (and editors' picks). "
            "Papers whose category is not known yet still come."
        ),
        error_messages={"invalid_choice": "Pick arXiv categories from the list."},
    )
    frequency = SharedChoiceField(
        choices=Subscriber.Frequency.choices,
        initial=Subscriber.Frequency.DAILY,
        widget=forms.RadioSelect,
        error_messages={
            "invalid_choice": "Pick how often you want the digest.",
            "required": "Pick how often.",
        },
    )
    digest_size = forms.IntegerField(
        min_value=DIGEST_SIZE_MIN,
        max_value=DIGEST_SIZE_MAX,
        initial=DIGEST_SIZE_DEFAULT,
        label="Papers per digest",
        error_messages={
            "min_value": f"A digest has at least {DIGEST_SIZE_MIN} papers.",
            "max_value": f"A digest has at most {DIGEST_SIZE_MAX} papers.",
            "invalid": f"Enter a number of papers from {DIGEST_SIZE_MIN} to {DIGEST_SIZE_MAX}.",
            "required": f"Enter a number of papers from {DIGEST_SIZE_MIN} to {DIGEST_SIZE_MAX}.",
        },
    )
    delivery_hour = SharedTypedChoiceField(
        choices=[(hour, f"{hour:02d}:00") for hour in range(24)],
        coerce=int,
        initial=DELIVERY_HOUR_DEFAULT,
        label="Delivery time",
        error_messages={
            "invalid_choice": "Pick an hour of the day.",
            "required": "Pick an hour of the day.",
        },
    )
    timezone = SharedChoiceField(
        choices=[(name, name) for name in timezone_names()],
        initial="UTC",
        label="Time zone",
        error_messages={
            "invalid_choice": "Pick a time zone from the list.",
            "required": "Pick a time zone.",
        },
    )

    def clean_interests(self) -> str:
        interests = interests_clean(self.cleaned_data["interests"])
        # Checked again after cleaning: NFC makes some characters longer (U+FB2C becomes three).
        if len(interests) > INTERESTS_MAX_CHARS:
            message = self.fields["interests"].error_messages["max_length"]
            raise forms.ValidationError(
                message, code="max_length", params={"show_value": len(interests)}
            )
        return interests

    def clean_categories(self) -> list[str]:
        # Catalogue order, no duplicates, whatever order the browser sent them in.
        picked = set(self.cleaned_data["categories"])
        return [code for code in ARXIV_CATEGORIES if code in picked]

    def preferences(self) -> Preferences:
        """The cleaned values, for the services."""
        data = self.cleaned_data
        return Preferences(
            interests=data["interests"],
            categories=data["categories"],
            frequency=data["frequency"],
            digest_size=data["digest_size"],
            delivery_hour=data["delivery_hour"],
            timezone=data["timezone"],
        )

    @classmethod
    def initial_from(cls, subscriber: Subscriber) -> dict[str, object]:
        """The form's initial values from a subscriber's current preferences."""
        return {name: getattr(subscriber, name) for name in cls.base_fields}


class SeedIdsField(forms.CharField):
    """arXiv ids or URLs, one or more a line (or separated by spaces or commas): their ids."""

    widget = forms.Textarea(
        attrs={
            "rows": 4,
            "placeholder": "2401.12345\nhttps://arxiv.org/abs/2310.06825\n"
            "https://huggingface.co/papers/2402.17764",
            "spellcheck": "false",
        }
    )

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("label", "arXiv ids or links")
        kwargs.setdefault(
            "help_text",
            "arXiv ids (2401.12345, hep-th/9901001) or links to arXiv abstracts, PDFs or "
            "Hugging Face paper pages, one or more a line.",
        )
        super().__init__(**kwargs)

    def clean(self, value: Any) -> list[str]:
        text = super().clean(value)
        if not text:
            return []
        try:
            return seeds.ids_parse(text)
        except seeds.SeedError as error:
            raise forms.ValidationError(str(error), code="invalid") from error


class SubscribeForm(PreferencesForm):
    email = StrictEmailField(
        label="Email address",
        error_messages={
            "required": "Enter your email address.",
            "invalid": "Enter a complete email address.",
        },
    )
    seeds = SeedIdsField(
        required=False,
        label="Papers like these",
        help_text=(
            "Optional: arXiv ids or links (arXiv or Hugging Face) of papers you liked, one a line. "
            "Your digest looks for papers like them."
        ),
    )
    field_order = ["email", *PREFERENCE_FIELDS, "seeds"]

    def seed_ids(self) -> list[str]:
        """The arXiv ids given as examples, cleaned (none if the field was left empty)."""
        return list(self.cleaned_data.get("seeds") or [])


class SeedIdsForm(forms.Form):
    """Papers like these, pasted as arXiv ids or links (manage page)."""

    ids = SeedIdsField(error_messages={"required": "Paste at least one arXiv id or link."})

    def inputs(self) -> list[seeds.SeedInput]:
        """The ids as the service takes them."""
        return [seeds.SeedInput(arxiv_id=arxiv_id) for arxiv_id in self.cleaned_data["ids"]]


def bibtex_max_bytes() -> int:
    """The largest BibTeX file taken, in bytes."""
    return seeds.BIBTEX_MAX_BYTES


def _megabytes() -> str:
    return f"{bibtex_max_bytes() / 1024 / 1024:g}"


class SeedFileForm(forms.Form):
    """Papers like these, from a BibTeX export (Zotero, Mendeley, Google Scholar)."""

    bibtex = forms.FileField(
        label="A BibTeX file",
        widget=forms.FileInput(attrs={"accept": ".bib,.bibtex,.txt,text/x-bibtex"}),
        error_messages={
            "required": "Choose a BibTeX file (.bib) to upload.",
            "empty": "That file is empty.",
            "invalid": "That was not a file: choose a BibTeX file (.bib) to upload.",
            "missing": "That file did not arrive: please try again.",
        },
    )

    def __init__(self, *args: Any, too_large: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.too_large = too_large  # the view found the request too large to read
        self.fields["bibtex"].help_text = (
            f"Exported from Zotero, Mendeley or Google Scholar, at most {_megabytes()} MB. "
            "Entries with an arXiv id are fetched from arXiv; others are used by their title "
            "and abstract."
        )

    @staticmethod
    def too_large_message() -> str:
        """What the reader is told about a file over the cap."""
        return (
            f"That file is too large: the limit is {_megabytes()} MB. Export only the papers you "
            "want to use (a Zotero collection or a tag)."
        )

    def full_clean(self) -> None:
        """Validate the upload; one the view found too large is refused without reading it."""
        if not self.too_large:
            super().full_clean()
            return
        self._errors = ErrorDict()
        self.cleaned_data = {}
        self.add_error("bibtex", self.too_large_message())

    def clean_bibtex(self) -> seeds.BibtexResult:
        upload: UploadedFile = self.cleaned_data["bibtex"]
        # The size is known before the file is read: one over the cap is never read into memory.
        if upload.size is None or upload.size > bibtex_max_bytes():
            raise forms.ValidationError(self.too_large_message(), code="too_large")
        data = upload.read(bibtex_max_bytes() + 1)
        try:
            return seeds.bibtex_parse(data)
        except seeds.SeedError as error:
            raise forms.ValidationError(str(error), code="invalid") from error


class SeedAuthorForm(forms.Form):
    """Papers like these: the recent papers of an arXiv author, by name or ORCID iD."""

    author = forms.CharField(
        label="An arXiv author or ORCID iD",
        max_length=200,
        widget=forms.TextInput(
            attrs={"placeholder": "Yoshua Bengio, or 0000-0002-1825-0097", "autocomplete": "off"}
        ),
        help_text=(
            "We look up their recent papers on arXiv: give your own name to start from yours."
        ),
        error_messages={
            "required": "Enter an author's name or an ORCID iD.",
            "max_length": "An author's name or ORCID iD is at most 200 characters.",
        },
    )

    def clean_author(self) -> str:
        text = interests_clean(self.cleaned_data["author"])
        if not text:
            raise forms.ValidationError("Enter an author's name or an ORCID iD.", code="required")
        try:
            seeds.author_parse(text)
        except seeds.SeedError as error:
            raise forms.ValidationError(str(error), code="invalid") from error
        return text


class LessOfForm(forms.Form):
    """Less of this: topics whose papers are pushed down the reader's digest."""

    less_of = CountedCharField(
        required=False,
        max_length=LESS_OF_MAX_CHARS,
        label="Less of this",
        widget=forms.TextInput(attrs={"placeholder": "benchmarks, surveys"}),
        help_text=(
            "Topics you would rather not read about, separated by commas: papers close to them "
            "come lower in your digest (they are not hidden). Leave empty for none."
        ),
        error_messages={
            "max_length": f"Please keep this under {LESS_OF_MAX_CHARS} characters.",
        },
    )

    def clean_less_of(self) -> str:
        text = interests_clean(self.cleaned_data["less_of"])
        # Checked again after cleaning: NFC can make a text longer.
        if len(text) > LESS_OF_MAX_CHARS:
            raise forms.ValidationError(
                self.fields["less_of"].error_messages["max_length"], code="max_length"
            )
        return text


class EmailChangeForm(forms.Form):
    new_email = StrictEmailField(
        label="New email address",
        error_messages={
            "required": "Enter the new address.",
            "invalid": "Enter a complete email address.",
        },
    )


class ViaForm(forms.Form):
    """How the digests come: by email, or only in the reader's private feed (never "channel")."""

    via = forms.ChoiceField(
        label="How your digests come",
        choices=[
            (Subscriber.Via.EMAIL.value, "Email, and in my feed"),
            (Subscriber.Via.FEED.value, "Feed only, no email"),
        ],
        widget=forms.RadioSelect,
        error_messages={
            "required": "Choose email or feed only.",
            "invalid_choice": "Choose email or feed only.",
        },
    )
