"""The development outbox at /outbox/: the emails in var/outbox, shown only when DEBUG is on."""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path

import pytest
from django.core.mail import get_connection

from subscriptions.emails import email_build
from subscriptions.outbox import html_preview, outbox_list


@pytest.fixture
def outbox_folder(settings, tmp_path: Path) -> Path:
    settings.EMAIL_FILE_PATH = tmp_path
    connection = get_connection(
        "django.core.mail.backends.filebased.EmailBackend", file_path=str(tmp_path)
    )
    messages = [
        email_build(
            name="confirm",
            to="ada@example.org",
            context={"confirm_url": "http://127.0.0.1:8000/confirm/abc/"},
            unsubscribe_url="http://127.0.0.1:8000/unsubscribe/xyz/",
        ),
        email_build(
            name="change_email",
            to="bob@example.org",
            context={"change_url": "http://127.0.0.1:8000/email/q/"},
        ),
    ]
    connection.send_messages(messages)
    return tmp_path


def test_with_debug_on_it_lists_the_outbox_newest_first(client, settings, outbox_folder) -> None:
    settings.DEBUG = True

    html = client.get("/outbox/").content.decode()

    rows = re.findall(
        r"<td>([^<]*@example\.org)</td><td><a href=\"(/outbox/[^\"]+/)\">([^<]+)</a>", html
    )
    assert [(to, subject) for to, _, subject in rows] == [
        ("bob@example.org", "Confirm your new address for Paperboy"),
        ("ada@example.org", "Confirm your Paperboy subscription"),
    ]


def test_with_debug_on_it_shows_a_message_with_its_html_in_a_sandboxed_frame(
    client, settings, outbox_folder
) -> None:
    settings.DEBUG = True
    listing = client.get("/outbox/").content.decode()
    path = re.findall(r'href="(/outbox/[^"]+/)"', listing)[-1]

    html = client.get(path).content.decode()

    frame = re.search(
        r'<iframe title="HTML part of the email" sandbox="[^"]*" srcdoc="([^"]*)"', html, re.S
    )
    assert frame, "no sandboxed frame"
    assert '<a href="http://127.0.0.1:8000/confirm/abc/"' in unescape(frame.group(1))
    assert "<script" not in frame.group(1)  # the HTML is inside an attribute, escaped
    assert (
        'href="http://127.0.0.1:8000/confirm/abc/"' in html.split("<h2>Text part</h2>")[1]
    )  # urlized text part
    assert "List-Unsubscribe-Post" in html


def test_with_debug_off_the_outbox_does_not_exist(client, settings, outbox_folder) -> None:
    settings.DEBUG = False
    name = next(outbox_folder.iterdir()).name

    assert client.get("/outbox/").status_code == 404
    assert client.get(f"/outbox/{name}:0/").status_code == 404


@pytest.mark.parametrize(
    "key", ["..:0", "../../etc/passwd:0", "nothing.log:0", "x.log:9", "x.log:-1", "x"]
)
def test_a_bad_message_key_is_a_404(client, settings, outbox_folder, key) -> None:
    settings.DEBUG = True

    assert client.get(f"/outbox/{key}/").status_code == 404


def _frame(html: str) -> tuple[str, str]:
    """The preview frame's sandbox tokens and its srcdoc, unescaped."""
    tag = re.search(r'<iframe title="HTML part of the email"[^>]*>', html)
    assert tag, "no frame"
    sandbox = re.search(r'\ssandbox="([^"]*)"', tag[0])
    srcdoc = re.search(r'\ssrcdoc="([^"]*)"', tag[0])
    assert sandbox
    assert srcdoc
    return sandbox[1], unescape(srcdoc[1])


def test_the_preview_opens_its_links_in_a_new_tab_and_allows_nothing_else(
    client, settings, outbox_folder
) -> None:
    settings.DEBUG = True
    listing = client.get("/outbox/").content.decode()
    path = re.findall(r'href="(/outbox/[^"]+/)"', listing)[-1]

    sandbox, srcdoc = _frame(client.get(path).content.decode())

    assert sorted(sandbox.split()) == ["allow-popups", "allow-popups-to-escape-sandbox"]
    head = re.search(r"<head\b[^>]*>(.*?)</head>", srcdoc, re.S | re.I)
    assert head, "the email has no head"
    assert head[1].lstrip().startswith('<base target="_blank">')
    assert srcdoc.count("<base") == 1


def test_only_the_preview_gets_the_base_target_never_the_sent_email(outbox_folder) -> None:
    [message, *_] = [m for m in outbox_list(folder=outbox_folder) if m.to == "ada@example.org"]

    assert "<base" not in message.html
    assert '<base target="_blank">' in message.preview_html
    assert message.preview_html.replace('<base target="_blank">', "", 1) == message.html


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        (
            '<html><HEAD lang="en"><title>x</title></HEAD></html>',
            '<html><HEAD lang="en"><base target="_blank"><title>x</title></HEAD></html>',
        ),
        (
            "<p>no head <header>here</header></p>",
            '<base target="_blank"><p>no head <header>here</header></p>',
        ),
        ("", '<base target="_blank">'),
    ],
)
def test_the_base_target_goes_first_in_the_head_or_first_of_all(html, expected) -> None:
    assert html_preview(html) == expected
