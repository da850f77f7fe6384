"""The one table from domain events to RealtimeKit webhook events (style §10.2).

A domain event is recognised by the name of its `realtime.events.v1.Event.payload` oneof field,
which is also the last token of its subject (`…apps.<app>.meetings.<meeting>.session_started`).

| Domain event (oneof field / subject token) | Webhook event               | Source                 |
|--------------------------------------------|-----------------------------|------------------------|
| `session_started`                          | `meeting.started`           | orchestrator           |
| `session_ended`                            | `meeting.ended`             | orchestrator           |
| `participant_joined`                       | `meeting.participantJoined` | orchestrator           |
| `participant_left`                         | `meeting.participantLeft`   | orchestrator           |
| `chat_synced`                              | `meeting.chatSynced`        | orchestrator           |
| `recording_status_changed`                 | `recording.statusUpdate`    | recording (not yet)    |
| `livestream_status_changed`                | `livestreaming.statusUpdate`| recording (not yet)    |
| `transcript_ready`                         | `meeting.transcript`        | recording/AI (not yet) |
| `summary_ready`                            | `meeting.summary`           | recording/AI (not yet) |

Events without a payload builder in `payloads.BUILDERS` are acknowledged and ignored.
"""

from __future__ import annotations

from realtime.meeting.v1 import webhook_pb2
from rtkit import wire

_ENUM = webhook_pb2.WebhookEvent.DESCRIPTOR

MEETING_STARTED = "meeting.started"
MEETING_ENDED = "meeting.ended"
PARTICIPANT_JOINED = "meeting.participantJoined"
PARTICIPANT_LEFT = "meeting.participantLeft"
CHAT_SYNCED = "meeting.chatSynced"
RECORDING_STATUS_UPDATE = "recording.statusUpdate"
LIVESTREAMING_STATUS_UPDATE = "livestreaming.statusUpdate"
MEETING_TRANSCRIPT = "meeting.transcript"
MEETING_SUMMARY = "meeting.summary"

# domain event → webhook event
DOMAIN_TO_WEBHOOK: dict[str, str] = {
    "session_started": MEETING_STARTED,
    "session_ended": MEETING_ENDED,
    "participant_joined": PARTICIPANT_JOINED,
    "participant_left": PARTICIPANT_LEFT,
    "chat_synced": CHAT_SYNCED,
    "recording_status_changed": RECORDING_STATUS_UPDATE,
    "livestream_status_changed": LIVESTREAMING_STATUS_UPDATE,
    "transcript_ready": MEETING_TRANSCRIPT,
    "summary_ready": MEETING_SUMMARY,
}


def names() -> list[str]:
    """Every subscribable webhook event name, in catalogue (enum) order."""
    return wire.enum_values(_ENUM)


def numbers() -> list[int]:
    """Every subscribable WebhookEvent value, in catalogue order."""
    return [v.number for v in _ENUM.values if v.number != 0]


def to_name(number: int) -> str:
    """WebhookEvent value → wire name; ValueError for UNSPECIFIED or unknown numbers."""
    name = wire.enum_to_wire(_ENUM, number)
    if name is None:
        raise ValueError(f"unknown webhook event {number}")
    return name


def to_number(name: str) -> int:
    """Wire name → WebhookEvent value; ValueError when unknown."""
    return wire.enum_from_wire(_ENUM, name)


# Every mapped webhook event must be a catalogue name (checked at import).
assert set(DOMAIN_TO_WEBHOOK.values()) == set(names()), "catalogue and WebhookEvent enum disagree"
