"""Sign-up, confirm, manage, unsubscribe and the development outbox: views only call services.

Every page behind a link from an email is reached by a signed token (subscriptions.tokens):
a GET shows a page with a button and changes nothing (mail scanners follow links); the
POST acts. A bad, expired or stale link gets a page that says so (400 or 410), never a 500.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Concatenate

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST, require_safe
from kombu.exceptions import OperationalError as BrokerError

from subscriptions import services
from subscriptions.forms import EmailChangeForm, PreferencesForm, StrictEmailField, SubscribeForm
from subscriptions.models import Subscriber
from subscriptions.outbox import outbox_get, outbox_list
from subscriptions.ratelimit import client_ip, rate_limit_hit
from subscriptions.selectors import subscriber_export, subscriber_from_token
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
    if rate_limit_hit(
        scope="signup-ip", key=client_ip(request), limit=settings.PAPERBOY_SIGNUP_LIMIT_PER_IP
    ):
        return _rate_limited_page(
            request, form, "Too many sign-ups from your network in the last hour. Please try later."
        )
    if request.POST.get(HONEYPOT):
        logger.info("sign-up honeypot filled in")
        return _redirect_to_sent_page()  # the bot sees success; nothing is stored or sent
    if not form.is_valid():
        return render(request, "subscriptions/subscribe.html", {"form": form}, status=400)
    email = form.cleaned_data["email"]
    if rate_limit_hit(
        scope="signup-address", key=email.lower(), limit=settings.PAPERBOY_SIGNUP_LIMIT_PER_ADDRESS
    ):
        return _rate_limited_page(
            request, form, "Too many sign-ups for this address in the last hour. Please try later."
        )
    _subscribe_in_worker(email=email, preferences=form.preferences())
    return _redirect_to_sent_page()


def _subscribe_in_worker(*, email: str, preferences: services.Preferences) -> None:
    """Hand the sign-up to the worker: the answer is the same for any address, so no need to wait.

    One message to the broker is all a sign-up costs the web process. If the broker cannot take
    it, the sign-up is stored here instead: slower, but nothing is lost.
    """
    try:
        # argsrepr: the broker's headers (and monitoring tools) never show the address.
        # celery-types 0.26 leave both options out of apply_async's signature; Celery takes them.
        subscriber_subscribe_task.apply_async(  # type: ignore[call-arg]
            (email, asdict(preferences)), argsrepr="(sign-up)", kwargsrepr="{}"
        )
    except BrokerError as error:
        logger.warning(
            "broker unavailable, sign-up stored by the web process", extra={"error": str(error)}
        )
        services.subscriber_subscribe(email=email, preferences=preferences)


@require_safe
def subscribe_sent(request: HttpRequest) -> HttpResponse:
    """The one answer to every sign-up, whatever the address's state: no enumeration."""
    return render(request, "subscriptions/subscribe_sent.html")


@require_http_methods(["GET", "HEAD", "POST"])
@by_token(Purpose.CONFIRM)
def confirm(request: HttpRequest, subscriber: Subscriber, *, token: str) -> HttpResponse:
    """GET: a page with a confirm button. POST: confirm the subscription."""
    if request.method == "POST":
        services.subscriber_confirm(subscriber=subscriber)
    context = {"subscriber": subscriber, "manage_path": _link_path(subscriber, Purpose.MANAGE)}
    # A sign-up that was cancelled since (unsubscribed, or suppressed) cannot be confirmed:
    # sign up again.
    status = 410 if subscriber.status not in _CONFIRMABLE else 200
    return render(request, "subscriptions/confirm.html", context, status=status)


# --- Manage page ----------------------------------------------------------------------------


def _manage_page(
    request: HttpRequest,
    subscriber: Subscriber,
    *,
    form: PreferencesForm | None = None,
    email_form: EmailChangeForm | None = None,
    status: int = 200,
) -> HttpResponse:
    context = {
        "subscriber": subscriber,
        "form": form or PreferencesForm(initial=PreferencesForm.initial_from(subscriber)),
        "email_form": email_form or EmailChangeForm(),
        "manage_path": request.path,
        "unsubscribe_path": _link_path(subscriber, Purpose.UNSUBSCRIBE),
        "Status": Subscriber.Status,
    }
    return render(request, "subscriptions/manage.html", context, status=status)


@require_http_methods(["GET", "HEAD", "POST"])
@by_token(Purpose.MANAGE)
def manage(request: HttpRequest, subscriber: Subscriber, *, token: str) -> HttpResponse:
    """GET: the reader's preferences. POST: save them."""
    if request.method != "POST":
        return _manage_page(request, subscriber)
    form = PreferencesForm(request.POST)
    if not form.is_valid():
        return _manage_page(request, subscriber, form=form, status=400)
    services.subscriber_update(subscriber=subscriber, preferences=form.preferences())
    messages.success(request, "Your preferences are saved.")
    return redirect(request.path)


def _manage_url(token: str) -> str:
    return reverse("subscriptions:manage", kwargs={"token": token})


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


@require_POST
@by_token(Purpose.MANAGE)
def manage_email(request: HttpRequest, subscriber: Subscriber, *, token: str) -> HttpResponse:
    """Ask to move the subscription to a new address, in effect once confirmed from that address."""
    form = EmailChangeForm(request.POST)
    if not form.is_valid():
        return _manage_page(request, subscriber, email_form=form, status=400)
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
