"""Sign-up, confirm, manage, unsubscribe and the development outbox: views only call services.

Every page behind a link from an email is reached by a signed token (subscriptions.tokens):
a GET shows a page with a button and changes nothing (mail scanners follow links); the
POST acts. A bad, expired or stale link gets a page that says so (400 or 410), never a 500.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import zoneinfo
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Concatenate

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_http_methods, require_POST, require_safe
from kombu.exceptions import OperationalError as BrokerError

from subscriptions import services
from subscriptions.forms import (
    EmailChangeForm,
    LessOfForm,
    PreferencesForm,
    SeedAuthorForm,
    SeedFileForm,
    SeedIdsForm,
    StrictEmailField,
    SubscribeForm,
    ViaForm,
    bibtex_max_bytes,
)
from subscriptions.models import Seed, Subscriber
from subscriptions.outbox import outbox_get, outbox_list
from subscriptions.ratelimit import (
    SIGNUP_MAIL_INTERVAL,
    SIGNUP_MAILS_PER_DAY,
    SignupMailClaim,
    client_ip,
    signup_check,
)
from subscriptions.seeds import SeedError, SeedInput
from subscriptions.selectors import (
    FEED_READABLE,
    seeds_for_reader,
    subscriber_export,
    subscriber_from_token,
)
from subscriptions.tasks import subscriber_subscribe_task
from subscriptions.tokens import Purpose, TokenError, token_make

logger = logging.getLogger(__name__)
_CONFIRMABLE = (Subscriber.Status.PENDING, Subscriber.Status.ACTIVE, Subscriber.Status.PAUSED)
TokenView = Callable[Concatenate[HttpRequest, Subscriber, ...], HttpResponse]


def _link_path(subscriber: Subscriber, purpose: Purpose) -> str:
    token = token_make(subscriber_id=subscriber.pk, address=subscriber.email, purpose=purpose)
    return reverse(f"subscriptions:{purpose.value}", kwargs={"token": token})


def _private(response: HttpResponse) -> HttpResponse:
    # Pages behind a token are the reader's own: never cached, never indexed.
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def by_token(purpose: Purpose) -> Callable[[TokenView], Callable[..., HttpResponse]]:
    """Resolve the URL's token to its subscriber, or answer a page saying why the link fails."""

    def decorator(view: TokenView) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        @never_cache
        def wrapper(request: HttpRequest, token: str) -> HttpResponse:
            try:
                subscriber = subscriber_from_token(token=token, purpose=purpose)
            except TokenError as error:
                status = 410 if error.expired else 400
                context = {"reason": str(error), "expired": error.expired}
                return _private(
                    render(request, "subscriptions/link_invalid.html", context, status=status)
                )
            return _private(view(request, subscriber, token=token))

        return wrapper

    return decorator


# --- Sign-up --------------------------------------------------------------------------------


def _prefilled_email(request: HttpRequest) -> str:
    """The address from the home page's box (?email=), only if valid: nothing else is echoed."""
    try:
        return StrictEmailField(required=False).clean(request.GET.get("email", ""))
    except ValidationError:  # an invalid address simply means no prefill
        return ""


# A field people never see (hidden by CSS, skipped by keyboards and screen readers);
# bots fill it in.
HONEYPOT = "website"


def _redirect_to_sent_page() -> HttpResponse:
    response = redirect("subscriptions:subscribe-sent")
    response.status_code = 303  # See Other: a reload of the next page never posts the form again
    return response


def _rate_limited_page(request: HttpRequest, form: SubscribeForm, message: str) -> HttpResponse:
    context = {"form": form, "limit_message": message}
    return render(request, "subscriptions/subscribe.html", context, status=429)


@require_http_methods(["GET", "HEAD", "POST"])
def subscribe(request: HttpRequest) -> HttpResponse:
    """The sign-up form; a valid sign-up always lands on the same "check your inbox" page."""
    if request.method != "POST":
        form = SubscribeForm(initial={"email": _prefilled_email(request)})
        return render(request, "subscriptions/subscribe.html", {"form": form})
    form = SubscribeForm(request.POST)
    honeypot = bool(request.POST.get(HONEYPOT))
    valid = not honeypot and form.is_valid()
    check = signup_check(
        ip=client_ip(request),
        email=form.cleaned_data["email"] if valid else None,
        now=timezone.now(),
    )
    if check.refused == "ip":
        return _rate_limited_page(
            request, form, "Too many sign-ups from your network in the last hour. Please try later."
        )
    if honeypot:
        logger.info("sign-up honeypot filled in")
        return _redirect_to_sent_page()  # the bot sees success; nothing is stored or sent
    if not valid:
        return render(request, "subscriptions/subscribe.html", {"form": form}, status=400)
    email = form.cleaned_data["email"]
    zone = form.cleaned_data["timezone"]
    if check.refused == "address":
        # The count is per clock hour (fixed windows): it starts again at :00.
        retry = timezone.now().replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1)
        return _rate_limited_page(
            request,
            form,
            "Too many sign-ups for this address in the last hour. You can try again from "
            f"{retry.astimezone(zoneinfo.ZoneInfo(zone)):%H:%M} ({zone} time).",
        )
    if check.refused == "mail":
        message = _signup_mail_refused_message(check.mail, zone=zone)
        return _rate_limited_page(request, form, message)
    _subscribe_in_worker(email=email, preferences=form.preferences(), seeds=form.seed_ids())
    return _redirect_to_sent_page()


def _signup_mail_refused_message(claim: SignupMailClaim, *, zone: str) -> str:
    """Why no email goes out now, and from when the reader may ask again, in their time zone."""
    assert claim.retry_at is not None
    local = zoneinfo.ZoneInfo(zone)
    retry = claim.retry_at.astimezone(local)
    if claim.sent_at is None:
        return (
            f"This address has had {SIGNUP_MAILS_PER_DAY} emails from us today, the most we send "
            f"in a day, so nothing was sent or changed. The last one still works. You can ask "
            f"again from {retry:%H:%M} on {retry:%A} {retry.day} {retry:%B} ({zone} time)."
        )
    sent = claim.sent_at.astimezone(local)
    minutes = int(SIGNUP_MAIL_INTERVAL.total_seconds() // 60)
    return (
        f"We sent an email to this address at {sent:%H:%M} ({zone} time), less than "
        f"{minutes} minutes ago, so nothing was sent or changed: look for it in your inbox and "
        f"spam folder. You can ask for another from {retry:%H:%M}."
    )


def _subscribe_in_worker(
    *, email: str, preferences: services.Preferences, seeds: list[str]
) -> None:
    """Hand the sign-up to the worker: the answer is the same for any address, so no need to wait.

    One message to the broker is all a sign-up costs the web process. If the broker cannot take
    it, the sign-up is stored here instead: slower, but nothing is lost.
    """
    try:
        # argsrepr: the broker's headers (and monitoring tools) never show the address.
        # celery-types 0.26 leave both options out of apply_async's signature; Celery takes them.
        # The seeds only when given: a message without them is the one older workers take.
        args = (email, asdict(preferences), seeds) if seeds else (email, asdict(preferences))
        subscriber_subscribe_task.apply_async(  # type: ignore[call-arg]
            args, argsrepr="(sign-up)", kwargsrepr="{}"
        )
    except BrokerError as error:
        logger.warning(
            "broker unavailable, sign-up stored by the web process", extra={"error": str(error)}
        )
        services.subscriber_subscribe(email=email, preferences=preferences, seeds=seeds)


@require_safe
def subscribe_sent(request: HttpRequest) -> HttpResponse:
    """The one answer to every sign-up, whatever the address's state: no enumeration."""
    context = {
        "interval_minutes": int(SIGNUP_MAIL_INTERVAL.total_seconds() // 60),
        "per_day": SIGNUP_MAILS_PER_DAY,
    }
    return render(request, "subscriptions/subscribe_sent.html", context)


@require_http_methods(["GET", "HEAD", "POST"])
@by_token(Purpose.CONFIRM)
def confirm(request: HttpRequest, subscriber: Subscriber, *, token: str) -> HttpResponse:
    """GET: a page with a confirm button. POST: confirm the subscription."""
    confirmed = request.method == "POST" and services.subscriber_confirm(subscriber=subscriber)
    context = {
        "subscriber": subscriber,
        "manage_path": _link_path(subscriber, Purpose.MANAGE),
        "just_confirmed": confirmed,
    }
    # A sign-up that was cancelled since (unsubscribed, or suppressed) cannot be confirmed:
    # sign up again.
    status = 410 if subscriber.status not in _CONFIRMABLE else 200
    return render(request, "subscriptions/confirm.html", context, status=status)


# --- Manage page ----------------------------------------------------------------------------


def _manage_url(token: str) -> str:
    return reverse("subscriptions:manage", kwargs={"token": token})


def _manage_page(
    request: HttpRequest,
    subscriber: Subscriber,
    *,
    token: str,
    status: int = 200,
    seeds_error: str = "",
    bound: dict[str, forms.Form] | None = None,
) -> HttpResponse:
    """The manage page; a form given (bound, with its errors) replaces its empty default."""
    seeds = seeds_for_reader(subscriber=subscriber)
    context = {
        "subscriber": subscriber,
        "form": PreferencesForm(initial=PreferencesForm.initial_from(subscriber)),
        "email_form": EmailChangeForm(),
        "ids_form": SeedIdsForm(),
        "file_form": SeedFileForm(),
        "author_form": SeedAuthorForm(),
        "less_of_form": LessOfForm(initial={"less_of": subscriber.less_of}),
        "via_form": ViaForm(initial={"via": subscriber.via}),
        **(bound or {}),
        "seeds": seeds,
        "seeds_pending": any(seed.status == Seed.Status.PENDING for seed in seeds),
        "seeds_error": seeds_error,
        "Seed": Seed,
        # Every form posts to its own URL: the page's address is the manage URL, whichever
        # form was sent.
        "manage_path": _manage_url(token),
        "unsubscribe_path": _link_path(subscriber, Purpose.UNSUBSCRIBE),
        "Status": Subscriber.Status,
        # The private feed (its URLs are the digest app's: the template links them by name).
        "feed_key": subscriber.feed_key if _feed_open(subscriber) else "",
        "feed_open": _feed_open(subscriber),
        "site_url": settings.SITE_URL,
    }
    return render(request, "subscriptions/manage.html", context, status=status)


def _feed_open(subscriber: Subscriber) -> bool:
    """Whether the reader has a private feed: confirmed, active or paused (a channel has none)."""
    readable = subscriber.status in FEED_READABLE and subscriber.confirmed_at is not None
    return readable and subscriber.via != Subscriber.Via.CHANNEL


@require_http_methods(["GET", "HEAD", "POST"])
@by_token(Purpose.MANAGE)
def manage(request: HttpRequest, subscriber: Subscriber, *, token: str) -> HttpResponse:
    """GET: the reader's preferences. POST: save them."""
    if request.method != "POST":
        return _manage_page(request, subscriber, token=token)
    form = PreferencesForm(request.POST)
    if not form.is_valid():
        return _manage_page(request, subscriber, token=token, bound={"form": form}, status=400)
    services.subscriber_update(subscriber=subscriber, preferences=form.preferences())
    messages.success(request, "Your preferences are saved.")
    return redirect(request.path)


@require_POST
@by_token(Purpose.MANAGE)
def manage_pause(request: HttpRequest, subscriber: Subscriber, *, token: str) -> HttpResponse:
    """Pause, or resume, the digests."""
    if request.POST.get("action") == "resume":
        services.subscriber_resume(subscriber=subscriber)
        messages.success(request, "Welcome back: your digests start again.")
    elif services.subscriber_pause(subscriber=subscriber):
        messages.success(request, "Your digests are paused. Resume them here whenever you like.")
    return redirect(_manage_url(token))


FEED_ANCHOR = "#feed"


@require_POST
@by_token(Purpose.MANAGE)
def manage_feed(request: HttpRequest, subscriber: Subscriber, *, token: str) -> HttpResponse:
    """Make a new private feed address; the old one stops working at once."""
    if not _feed_open(subscriber):
        messages.error(request, "Your subscription has no feed while it is not active.")
        return redirect(_manage_url(token) + FEED_ANCHOR)
    services.subscriber_feed_key_rotate(subscriber=subscriber)
    messages.success(
        request,
        "Your feed has a new address: the old one no longer works. "
        "Put the new one in your feed reader.",
    )
    return redirect(_manage_url(token) + FEED_ANCHOR)


@require_POST
@by_token(Purpose.MANAGE)
def manage_via(request: HttpRequest, subscriber: Subscriber, *, token: str) -> HttpResponse:
    """Get the digests by email, or only in the private feed."""
    form = ViaForm(request.POST)
    if not form.is_valid():
        return _manage_page(request, subscriber, token=token, bound={"via_form": form}, status=400)
    via = form.cleaned_data["via"]
    if not services.subscriber_via_set(subscriber=subscriber, via=via):
        messages.info(request, "Nothing changed: that is already how your digests come.")
    elif via == Subscriber.Via.FEED:
        messages.success(
            request,
            "Done: no more digest emails. Your digests now come only to your private feed below.",
        )
    else:
        messages.success(
            request, "Done: your digests come by email again, and to your feed as well."
        )
    return redirect(_manage_url(token) + FEED_ANCHOR)


@require_POST
@by_token(Purpose.MANAGE)
def manage_email(request: HttpRequest, subscriber: Subscriber, *, token: str) -> HttpResponse:
    """Ask to move the subscription to a new address, in effect once confirmed from that address."""
    form = EmailChangeForm(request.POST)
    if not form.is_valid():
        return _manage_page(
            request, subscriber, token=token, bound={"email_form": form}, status=400
        )
    services.subscriber_email_change_request(
        subscriber=subscriber, new_email=form.cleaned_data["new_email"]
    )
    messages.success(
        request,
        "We sent a link to the new address. Your digests go to the current one until you click it.",
    )
    return redirect(_manage_url(token))


@require_safe
@by_token(Purpose.MANAGE)
def manage_export(request: HttpRequest, subscriber: Subscriber, *, token: str) -> HttpResponse:
    """Download everything stored about the reader, as JSON."""
    response = JsonResponse(
        subscriber_export(subscriber=subscriber), json_dumps_params={"indent": 2}
    )
    response["Content-Disposition"] = 'attachment; filename="paperboy-my-data.json"'
    return response


@require_http_methods(["GET", "HEAD", "POST"])
@by_token(Purpose.MANAGE)
def manage_delete(request: HttpRequest, subscriber: Subscriber, *, token: str) -> HttpResponse:
    """GET: ask to be sure. POST: erase the subscriber."""
    if request.method != "POST":
        context = {"subscriber": subscriber, "manage_path": _manage_url(token)}
        return render(request, "subscriptions/delete.html", context)
    services.subscriber_delete(subscriber=subscriber)
    return render(request, "subscriptions/deleted.html")


# --- Manage page: papers like these, and less of this ---------------------------------------
#
# Each form posts to its own URL and comes back to the page's "Papers like these" section: a
# success with a message, an error with the page again, the form's error next to its field and
# nothing stored.

SEEDS_ANCHOR = "#seeds"
# Room for the multipart headers and the other fields around the file itself.
_UPLOAD_OVERHEAD_BYTES = 16 * 1024


def _back_to_seeds(token: str) -> HttpResponse:
    return redirect(_manage_url(token) + SEEDS_ANCHOR)


def _papers(count: int) -> str:
    return f"{count} paper{'' if count == 1 else 's'}"


def _entries(count: int) -> str:
    return f"{count} entr{'y' if count == 1 else 'ies'}"


def _seeds_added_message(added: services.SeedsAdded) -> str:
    """What the reader is told once papers are added, e.g. "Added 3 papers; 2 are being fetched"."""
    if not added.added:
        return "Those papers were already in your list: nothing new to add."
    message = f"Added {_papers(added.added)}"
    if added.pending:
        verb = "is" if added.pending == 1 else "are"
        message += f"; {added.pending} {verb} being fetched from arXiv"
    if added.already:
        message += f" ({added.already} already in your list)"
    return message + "."


def _seeds_add(
    request: HttpRequest,
    subscriber: Subscriber,
    *,
    token: str,
    form: forms.Form,
    form_name: str,
    inputs: list[SeedInput],
    origin: str,
    skipped: int = 0,
) -> HttpResponse:
    """Store the seeds a valid form gave; a SeedError shows on that form and stores nothing."""
    try:
        added = services.seeds_add(subscriber=subscriber, inputs=inputs, origin=origin)
    except SeedError as error:
        form.add_error(None, str(error))
        return _manage_page(request, subscriber, token=token, status=400, bound={form_name: form})
    message = _seeds_added_message(added)
    if skipped:
        message += (
            f" {_entries(skipped)} of the file had no arXiv id, or no title and abstract, and "
            f"{'was' if skipped == 1 else 'were'} left out."
        )
    messages.success(request, message)
    return _back_to_seeds(token)


@require_POST
@by_token(Purpose.MANAGE)
def manage_seeds_ids(request: HttpRequest, subscriber: Subscriber, *, token: str) -> HttpResponse:
    """Add papers like these from pasted arXiv ids or links."""
    form = SeedIdsForm(request.POST)
    if not form.is_valid():
        return _manage_page(request, subscriber, token=token, bound={"ids_form": form}, status=400)
    return _seeds_add(
        request,
        subscriber,
        token=token,
        form=form,
        form_name="ids_form",
        inputs=form.inputs(),
        origin=Seed.Origin.ID,
    )


def _body_too_large(request: HttpRequest) -> bool:
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return False  # Django reads no body it cannot measure
    return length > bibtex_max_bytes() + _UPLOAD_OVERHEAD_BYTES


# The size of the body is checked before anything reads it (the CSRF check would parse it, and
# Django would spool a huge upload to disk first); the CSRF check comes right after.
@csrf_exempt
@require_POST
@by_token(Purpose.MANAGE)
def manage_seeds_file(request: HttpRequest, subscriber: Subscriber, *, token: str) -> HttpResponse:
    """Add papers like these from a BibTeX export."""
    if _body_too_large(request):
        form = SeedFileForm(data={}, too_large=True)
        return _manage_page(request, subscriber, token=token, bound={"file_form": form}, status=413)
    return _manage_seeds_file_checked(request, subscriber, token=token)


@csrf_protect
def _manage_seeds_file_checked(
    request: HttpRequest, subscriber: Subscriber, *, token: str
) -> HttpResponse:
    form = SeedFileForm(request.POST, request.FILES)
    if not form.is_valid():
        return _manage_page(request, subscriber, token=token, bound={"file_form": form}, status=400)
    return _seeds_add(
        request,
        subscriber,
        token=token,
        form=form,
        form_name="file_form",
        inputs=form.cleaned_data["bibtex"].seeds,
        origin=Seed.Origin.BIBTEX,
        skipped=form.cleaned_data["bibtex"].skipped,
    )


@require_POST
@by_token(Purpose.MANAGE)
def manage_seeds_author(
    request: HttpRequest, subscriber: Subscriber, *, token: str
) -> HttpResponse:
    """Add papers like these: an author's recent papers, looked up on arXiv by the worker."""
    form = SeedAuthorForm(request.POST)
    if form.is_valid():
        try:
            services.seeds_lookup_author(subscriber=subscriber, query=form.cleaned_data["author"])
        except SeedError as error:
            form.add_error("author", str(error))
    if not form.is_valid():
        return _manage_page(
            request, subscriber, token=token, bound={"author_form": form}, status=400
        )
    messages.success(
        request,
        f"Looking up recent papers by {form.cleaned_data['author']} on arXiv: they appear "
        "in your list when found.",
    )
    return _back_to_seeds(token)


def _seed_id(value: str) -> int | None:
    # ASCII digits only (int() also takes " 7", "٧" and "1_000"), and within the column's range.
    if not (value.isascii() and value.isdigit()) or len(value) > 12:
        return None
    number = int(value)
    return number if 0 < number < 2**63 else None


@require_POST
@by_token(Purpose.MANAGE)
def manage_seed_remove(request: HttpRequest, subscriber: Subscriber, *, token: str) -> HttpResponse:
    """Remove one paper from the reader's examples (only their own)."""
    seed_id = _seed_id(request.POST.get("seed", ""))
    if seed_id is None or not services.seed_remove(subscriber=subscriber, seed_id=seed_id):
        error = (
            "That paper is not in your list (it may have been removed already): nothing changed."
        )
        return _manage_page(request, subscriber, token=token, seeds_error=error, status=404)
    messages.success(request, "Removed. Your digest no longer looks for papers like that one.")
    return _back_to_seeds(token)


@require_POST
@by_token(Purpose.MANAGE)
def manage_seeds_clear(request: HttpRequest, subscriber: Subscriber, *, token: str) -> HttpResponse:
    """Remove every paper from the reader's examples."""
    removed = services.seeds_clear(subscriber=subscriber)
    if removed:
        messages.success(request, f"Removed all {_papers(removed)} from your examples.")
    else:
        messages.success(request, "Your list of papers was already empty.")
    return _back_to_seeds(token)


@require_POST
@by_token(Purpose.MANAGE)
def manage_less_of(request: HttpRequest, subscriber: Subscriber, *, token: str) -> HttpResponse:
    """Save the reader's "less of this" text."""
    form = LessOfForm(request.POST)
    if not form.is_valid():
        return _manage_page(
            request, subscriber, token=token, bound={"less_of_form": form}, status=400
        )
    text = form.cleaned_data["less_of"]
    services.subscriber_less_of_set(subscriber=subscriber, text=text)
    if text:
        messages.success(request, f"Saved: less of {text}.")
    else:
        messages.success(request, "Saved: nothing is pushed down any more.")
    return _back_to_seeds(token)


@require_http_methods(["GET", "HEAD", "POST"])
@by_token(Purpose.CHANGE_EMAIL)
def change_email(request: HttpRequest, subscriber: Subscriber, *, token: str) -> HttpResponse:
    """GET: a page with a button. POST: the new address replaces the old one."""
    context = {"subscriber": subscriber, "done": False}
    if request.method == "POST":
        try:
            services.subscriber_email_change_confirm(subscriber=subscriber)
        except services.SubscriptionError as error:
            return render(
                request,
                "subscriptions/change_email.html",
                {**context, "error": str(error)},
                status=409,
            )
        context.update(done=True, manage_path=_link_path(subscriber, Purpose.MANAGE))
    return render(request, "subscriptions/change_email.html", context)


# --- Unsubscribe ----------------------------------------------------------------------------


# The token alone authenticates: RFC 8058 one-click POSTs come from mail providers, with no
# cookie and no CSRF token, and must be answered directly (no redirect).
@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])
@by_token(Purpose.UNSUBSCRIBE)
def unsubscribe(request: HttpRequest, subscriber: Subscriber, *, token: str) -> HttpResponse:
    """GET: a page with an unsubscribe button. POST (the button, or one-click): unsubscribe now."""
    done = request.method == "POST"
    if done:
        services.subscriber_unsubscribe(subscriber=subscriber)
    context = {
        "subscriber": subscriber,
        "done": done,
        "manage_path": _link_path(subscriber, Purpose.MANAGE),
    }
    return render(request, "subscriptions/unsubscribe.html", context)


# --- Development outbox ---------------------------------------------------------------------


def _outbox_folder() -> Path:
    if not settings.DEBUG:
        raise Http404("The outbox exists only in development (DEBUG).")
    return Path(settings.EMAIL_FILE_PATH)


@require_safe
def outbox(request: HttpRequest) -> HttpResponse:
    """Development only: the emails written to var/outbox, newest first."""
    folder = _outbox_folder()
    return render(
        request, "subscriptions/outbox.html", {"outbox_messages": outbox_list(folder=folder)}
    )


@require_safe
def outbox_message(request: HttpRequest, key: str) -> HttpResponse:
    """Development only: one email, its headers, text part and HTML part (in a sandboxed frame)."""
    message = outbox_get(folder=_outbox_folder(), key=key)
    if message is None:
        raise Http404("No such message in the outbox.")
    return render(request, "subscriptions/outbox_message.html", {"message": message})
