"""Team channels: a team's Slack, Discord or signed webhook endpoint gets its digests.

messages builds each platform's message, http posts it safely, transport is the batch's
Transport for channels, services holds the channels' writes.
"""

from __future__ import annotations

from digest.channels.services import (
    ChannelFields,
    ChannelURLError,
    channel_create,
    channel_delete,
    channel_pause,
    channel_result_record,
    channel_resume,
    channel_update,
    channel_url_check,
)
from digest.channels.transport import ChannelTransport

__all__ = [
    "ChannelFields",
    "ChannelTransport",
    "ChannelURLError",
    "channel_create",
    "channel_delete",
    "channel_pause",
    "channel_result_record",
    "channel_resume",
    "channel_update",
    "channel_url_check",
]
