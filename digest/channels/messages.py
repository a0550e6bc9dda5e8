"""Each platform's native message for one digest: pure functions, no I/O.

Slack gets Block Kit, Discord embeds, a signed webhook a JSON event. Each is cut to the
platform's documented limits here, so the platform never refuses a digest for its size.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from digest.transport import CodeNotice, DigestItem, OutgoingDigest

# Slack: https://docs.slack.dev/reference/block-kit/blocks
SLACK_MAX_BLOCKS = 50
SLACK_HEADER_CHARS = 150
SLACK_SECTION_CHARS = 3000
SLACK_FALLBACK_CHARS = 3000  # the notification text; Slack cuts past 40,000 anyway
# Discord: https://discord.com/developers/docs/resources/message#embed-object-embed-limits
DISCORD_MAX_EMBEDS = 10
DISCORD_TITLE_CHARS = 256
DISCORD_DESCRIPTION_CHARS = 4096
DISCORD_FOOTER_CHARS = 2048
DISCORD_EMBEDS_TOTAL_CHARS = 6000
DISCORD_CONTENT_CHARS = 2000
SUMMARY_CHARS = 600  # a paper's summary in a chat message: a few sentences, not the abstract
WEBHOOK_EVENT_TYPE = "digest.issue"
ELLIPSIS = "…"


def shorten(text: str, limit: int) -> str:
    """The text on single spaces, cut at a word to at most `limit` characters with an ellipsis."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: max(limit - 1, 0)]
    if " " in cut[limit // 2 :]:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,;:.") + ELLIPSIS


# --- Slack ----------------------------------------------------------------------------------------


def slack_escape(text: str) -> str:
    """Slack's control characters as the entities it asks for (its only escaping)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_fit(text: str, limit: int) -> str:
    """The text escaped for Slack, at most `limit` characters once escaped (no entity cut)."""
    escaped = slack_escape(text)
    if len(escaped) <= limit:
        return escaped
    out, size = [], 0
    for char in text:
        piece = slack_escape(char)
        if size + len(piece) > limit - 1:
            break
        out.append(piece)
        size += len(piece)
    return "".join(out) + ELLIPSIS


def _slack_link(url: str, label: str, *, label_chars: int = 300) -> str:
    """<url|label>, with the URL kept whole and the label escaped and cut."""
    safe_url = slack_escape(url).replace("|", "%7C")
    return f"<{safe_url}|{slack_fit(label, label_chars)}>"


def _slack_context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def _slack_section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:SLACK_SECTION_CHARS]}}


def _slack_item_blocks(item: DigestItem) -> list[dict[str, Any]]:
    lines = [f"*{_slack_link(item.url, item.title)}*"]
    if item.authors:
        lines.append(slack_fit(item.authors, 300))
    if item.summary:
        lines.append(slack_fit(shorten(item.summary, SUMMARY_CHARS), SUMMARY_CHARS + 200))
    blocks = [_slack_section("\n".join(lines))]
    if item.reason:
        blocks.append(_slack_context(slack_fit(item.reason, 500)))
    return blocks


def _notice_stars(notice: CodeNotice) -> str:
    return f" ★ {notice.stars:,}" if notice.stars is not None else ""


def _slack_notice_blocks(notices: Sequence[CodeNotice]) -> list[dict[str, Any]]:
    if not notices:
        return []
    lines = [
        f"{_slack_link(n.url, n.title, label_chars=200)}: code is now available, "
        f"{_slack_link(n.repo, shorten(n.repo.removeprefix('https://'), 100))}{_notice_stars(n)}"
        for n in notices
    ]
    return [_slack_section("*Since you read it*\n" + "\n".join(lines))]


def slack_message(digest: OutgoingDigest) -> dict[str, Any]:
    """The digest as a Slack incoming webhook's Block Kit message, with its plain-text fallback."""
    header = {
        "type": "header",
        # Slack refuses an empty header.
        "text": {
            "type": "plain_text",
            "text": slack_fit(digest.heading or "Paperboy", SLACK_HEADER_CHARS),
        },
    }
    footer = _slack_context(
        f"{_slack_link(digest.issue_url, 'Read this issue on Paperboy')} · "
        f"id {digest.idempotency_key}"
    )
    tail = _slack_notice_blocks(digest.notices)
    room = SLACK_MAX_BLOCKS - 2 - len(tail)  # the header and the footer
    body: list[dict[str, Any]] = []
    for index, item in enumerate(digest.items):
        blocks = _slack_item_blocks(item)
        left = len(digest.items) - index
        # Keep one block free to say how many papers did not fit.
        if len(body) + len(blocks) > (room if left == 1 else room - 1):
            more = f"{left} more on {_slack_link(digest.issue_url, 'the issue page')}"
            body.append(_slack_context(more))
            break
        body += blocks
    return {
        "text": slack_fit(_fallback_text(digest), SLACK_FALLBACK_CHARS),
        "blocks": [header, *body, *tail, footer],
        "unfurl_links": False,
        "unfurl_media": False,
    }


def _fallback_text(digest: OutgoingDigest) -> str:
    """The notification's plain text: the heading and the titles."""
    return "\n".join([digest.heading, *(f"• {item.title}" for item in digest.items)])


# --- Discord --------------------------------------------------------------------------------------


def discord_escape(text: str) -> str:
    """Text that Discord's markdown shows as written (titles often hold * and _)."""
    return "".join("\\" + char if char in "\\*_~`|[]()#>" else char for char in text)


def _discord_item_embed(item: DigestItem) -> dict[str, Any]:
    parts = [discord_escape(item.authors)] if item.authors else []
    if item.summary:
        parts.append(discord_escape(shorten(item.summary, SUMMARY_CHARS)))
    if item.reason:
        parts.append(f"*{discord_escape(shorten(item.reason, 300))}*")
    return {
        "title": shorten(item.title, DISCORD_TITLE_CHARS),
        "url": item.url,
        "description": "\n\n".join(parts)[:DISCORD_DESCRIPTION_CHARS],
    }


def _discord_link(url: str, label: str, *, label_chars: int = 200) -> str:
    safe_url = url.replace("(", "%28").replace(")", "%29").replace(" ", "%20")
    return f"[{discord_escape(shorten(label, label_chars))}]({safe_url})"


def _discord_notice_embed(notices: Sequence[CodeNotice]) -> dict[str, Any]:
    lines = [
        f"{_discord_link(n.url, n.title)}: code is now available, "
        f"{_discord_link(n.repo, n.repo.removeprefix('https://'), label_chars=100)}"
        f"{_notice_stars(n)}"
        for n in notices
    ]
    return {"title": "Since you read it", "description": "\n".join(lines)}


def _discord_more_embed(items: Sequence[DigestItem], issue_url: str) -> dict[str, Any]:
    lines = [f"• {_discord_link(item.url, item.title)}" for item in items]
    return {"title": f"{len(items)} more papers", "url": issue_url, "description": "\n".join(lines)}


def _embed_chars(embed: dict[str, Any]) -> int:
    footer = embed.get("footer", {}).get("text", "")
    return len(embed.get("title", "")) + len(embed.get("description", "")) + len(footer)


def discord_fit(embeds: list[dict[str, Any]], *, total: int = DISCORD_EMBEDS_TOTAL_CHARS) -> None:
    """Cut the embeds' descriptions, in proportion to their length, to Discord's total limit."""
    for embed in embeds:
        embed["description"] = embed.get("description", "")[:DISCORD_DESCRIPTION_CHARS]
    over = sum(_embed_chars(e) for e in embeds) - total
    described = sum(len(e["description"]) for e in embeds)
    if over <= 0 or not described:
        return
    for embed in embeds:
        text = embed["description"]
        keep = len(text) - math.ceil(over * len(text) / described) - 1
        embed["description"] = (text[: max(keep, 0)] + ELLIPSIS) if keep > 0 else ""


def discord_message(digest: OutgoingDigest) -> dict[str, Any]:
    """The digest as a Discord webhook's message: an embed per paper, one for the notices."""
    slots = DISCORD_MAX_EMBEDS - (1 if digest.notices else 0)
    items = list(digest.items)
    if len(items) > slots:
        shown, rest = items[: slots - 1], items[slots - 1 :]
        embeds = [_discord_item_embed(i) for i in shown]
        embeds.append(_discord_more_embed(rest, digest.issue_url))
    else:
        embeds = [_discord_item_embed(i) for i in items]
    if digest.notices:
        embeds.append(_discord_notice_embed(digest.notices))
    embeds[-1:] = [{**e, "footer": {"text": f"id {digest.idempotency_key}"}} for e in embeds[-1:]]
    discord_fit(embeds)
    content = f"**{discord_escape(digest.heading)}** · <{digest.issue_url}>"
    return {
        "content": content[:DISCORD_CONTENT_CHARS],
        "embeds": embeds,
        # A paper's title must never ping @everyone or a role.
        "allowed_mentions": {"parse": []},
    }


# --- Signed webhook (Standard Webhooks) -----------------------------------------------------------


@dataclass(frozen=True)
class SignedRequest:
    """A Standard Webhooks request: the exact bytes sent, and the headers that sign them."""

    body: bytes
    headers: dict[str, str]


def webhook_event(*, digest: OutgoingDigest, issue_id: int, timestamp: int) -> dict[str, Any]:
    """The digest as a `digest.issue` event: its papers and the "code is out" notices."""
    return {
        "type": WEBHOOK_EVENT_TYPE,
        "timestamp": _iso(timestamp),
        "id": digest.idempotency_key,
        "data": {
            "issue": issue_id,
            "heading": digest.heading,
            "issue_url": digest.issue_url,
            "papers": [
                {
                    "arxiv_id": i.arxiv_id,
                    "title": i.title,
                    "url": i.url,
                    "authors": i.authors,
                    "summary": i.summary,
                    "reason": i.reason,
                }
                for i in digest.items
            ],
            "code_out": [
                {
                    "arxiv_id": n.arxiv_id,
                    "title": n.title,
                    "url": n.url,
                    "repo": n.repo,
                    "stars": n.stars,
                }
                for n in digest.notices
            ],
        },
    }


def _iso(timestamp: int) -> str:
    return dt.datetime.fromtimestamp(timestamp, tz=dt.UTC).isoformat().replace("+00:00", "Z")


def webhook_signature(*, secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<base64 HMAC-SHA256>` of "{id}.{timestamp}.{body}" under the whsec_ secret's key."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def webhook_request(
    *, digest: OutgoingDigest, issue_id: int, secret: str, timestamp: int
) -> SignedRequest:
    """The event's body, minified once, and the webhook-id/-timestamp/-signature that sign it."""
    event = webhook_event(digest=digest, issue_id=issue_id, timestamp=timestamp)
    body = json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()
    msg_id = digest.idempotency_key
    headers = {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": webhook_signature(
            secret=secret, msg_id=msg_id, timestamp=timestamp, body=body
        ),
    }
    return SignedRequest(body, headers)
