"""`meeting.participants`: remote participants, the waiting room, moderation, broadcasts.

Maps (`joined`, `waitlisted`, `pinned`) are read-only dicts keyed by peer id that also emit
`participantJoined` / `participantLeft` (snake_case aliases accepted). The module itself emits
`participantJoined`, `participantLeft`, `participantUpdated` (joined peers), `waitlistedParticipantJoined`
/ `waitlistedParticipantLeft`, `broadcastedMessage`, `pinned` / `unpinned`, `kicked`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from google.protobuf import struct_pb2

from realtimekit import wire
from realtimekit.events import EventEmitter

if TYPE_CHECKING:
    from realtimekit.client import RealtimeKitClient

S = wire.signal_pb2


class Participant(EventEmitter):
    """A remote peer (reference §10.5). Events: `audioUpdate`, `videoUpdate`, `screenShareUpdate`,
    `stageStatusUpdate`, `pinned`, `unpinned`, `kicked`, `participantUpdated`."""

    def __init__(self, client: RealtimeKitClient, peer_id: str) -> None:
        super().__init__()
        self._client = client
        self.id = peer_id
        self.user_id = ""
        self.name = ""
        self.picture = ""
        self.custom_participant_id = ""
        self.preset_name = ""
        self.preset_id = ""
        self.stage_status = "OFF_STAGE"
        self.audio_enabled = False
        self.video_enabled = False
        self.screen_share_enabled = False
        self.is_pinned = False
        self.is_host = False
        self.view_type = ""
        self.flags: dict[str, bool] = {"recorder": False, "hidden_participant": False}
        self.joined_at: datetime | None = None

    @property
    def peer_id(self) -> str:
        return self.id

    # -- media (tracks this client receives from the participant; realtimekit.tracks.RemoteTrack)

    @property
    def audio_track(self) -> Any:
        return self._client._media.track_of(self.id, "audio")

    @property
    def video_track(self) -> Any:
        return self._client._media.track_of(self.id, "video")

    @property
    def screen_share_track(self) -> Any:
        """The screen share's video track."""
        return self._client._media.track_of(self.id, "screenshare")

    @property
    def screen_share_tracks(self) -> dict[str, Any]:
        media = self._client._media
        return {"video": media.track_of(self.id, "screenshare"), "audio": media.track_of(self.id, "screenshareAudio")}

    def _emit_media(self, kind: str) -> None:
        """audioUpdate / videoUpdate / screenShareUpdate (also on `participants.joined`)."""
        if kind == "audio":
            event, payload = "audioUpdate", {"audio_enabled": self.audio_enabled, "audio_track": self.audio_track}
        elif kind == "video":
            event, payload = "videoUpdate", {"video_enabled": self.video_enabled, "video_track": self.video_track}
        elif kind in ("screenshare", "screenshareAudio"):
            event, payload = "screenShareUpdate", {"screen_share_enabled": self.screen_share_enabled,
                                                   "screen_share_tracks": self.screen_share_tracks}
        else:
            return
        self.emit(event, payload)
        self._client.participants.joined.emit(event, self, payload)

    def _update(self, info: Any) -> list[str]:
        """Apply a ParticipantInfo; returns the attributes that changed."""
        values = {
            "user_id": info.user_id,
            "name": info.name,
            "picture": info.picture,
            "custom_participant_id": info.custom_participant_id,
            "preset_name": info.preset_name,
            "preset_id": info.preset_id,
            "stage_status": wire.stage_status(info.stage_status),
            "audio_enabled": info.audio_enabled,
            "video_enabled": info.video_enabled,
            "screen_share_enabled": info.screen_share_enabled,
            "is_pinned": info.is_pinned,
            "is_host": info.is_host,
            "view_type": wire.view_type(info.view_type),
        }
        changed = [k for k, v in values.items() if getattr(self, k) != v]
        for key, value in values.items():
            setattr(self, key, value)
        self.flags = {"recorder": info.flags.recorder, "hidden_participant": info.flags.hidden_participant}
        self.joined_at = wire.timestamp(info, "join_time") or self.joined_at
        return changed

    # -- actions (moderation; the server checks the local preset) ------------------------------

    async def pin(self) -> None:
        await self._client._request(pin=S.PinRequest(peer_id=self.id))

    async def unpin(self) -> None:
        await self._client._request(pin=S.PinRequest(peer_id=self.id, unpin=True))

    async def disable_audio(self) -> None:
        await self._client.participants.disable_audio(self.id)

    async def disable_video(self) -> None:
        await self._client.participants.disable_video(self.id)

    async def kick(self) -> None:
        await self._client.participants.kick(self.id)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "user_id": self.user_id, "name": self.name, "picture": self.picture,
            "custom_participant_id": self.custom_participant_id, "preset_name": self.preset_name,
            "stage_status": self.stage_status, "audio_enabled": self.audio_enabled,
            "video_enabled": self.video_enabled, "screen_share_enabled": self.screen_share_enabled,
            "is_pinned": self.is_pinned, "is_host": self.is_host, "flags": dict(self.flags),
        }

    def __repr__(self) -> str:
        return f"Participant(id={self.id!r}, name={self.name!r}, preset_name={self.preset_name!r})"


class WaitlistedParticipant:
    """A peer in the waiting room, as shown to hosts (internal WaitingRoomRequest)."""

    def __init__(self, request: Any) -> None:
        self.id = request.peer_id
        self.user_id = request.user_id
        self.name = request.display_name
        self.picture = request.picture
        self.custom_participant_id = request.custom_participant_id
        self.preset_name = request.preset_name
        self.requested_at = wire.timestamp(request, "request_time")

    @property
    def peer_id(self) -> str:
        return self.id

    def __repr__(self) -> str:
        return f"WaitlistedParticipant(id={self.id!r}, name={self.name!r})"


class ParticipantMap(EventEmitter, Mapping[str, Any]):
    """Read-only dict of peers keyed by peer id; emits `participantJoined` / `participantLeft`."""

    def __init__(self) -> None:
        super().__init__()
        self._items: dict[str, Any] = {}

    def __getitem__(self, key: str) -> Any:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def to_list(self) -> list[Any]:
        return list(self._items.values())

    def by_user_id(self, user_id: str) -> list[Any]:
        return [p for p in self._items.values() if p.user_id == user_id]

    def _add(self, item: Any) -> bool:
        new = item.id not in self._items
        self._items[item.id] = item
        if new:
            self.emit("participantJoined", item)
        return new

    def _remove(self, peer_id: str) -> Any | None:
        item = self._items.pop(peer_id, None)
        if item is not None:
            self.emit("participantLeft", item)
        return item

    def _clear(self) -> None:
        if self._items:
            self._items.clear()
            self.emit("participantsCleared")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({list(self._items)})"


class Participants(EventEmitter):
    """`meeting.participants` (reference §10.4)."""

    def __init__(self, client: RealtimeKitClient) -> None:
        super().__init__()
        self._client = client
        self.joined = ParticipantMap()
        self.waitlisted = ParticipantMap()
        self.pinned = ParticipantMap()
        self.last_active_speaker: str | None = None

    @property
    def count(self) -> int:
        return len(self.joined)

    # -- waiting room (accept_waiting_requests) ------------------------------------------------

    async def accept_waiting_room_request(self, peer_id: str) -> None:
        await self._decide(S.WAITING_ROOM_ACTION_ACCEPT, [peer_id])

    async def accept_all_waiting_room_request(self, user_ids: list[str] | None = None) -> None:
        """Admit the given peers (peer or user ids), or everyone waiting when none are given."""
        if user_ids:
            await self._decide(S.WAITING_ROOM_ACTION_ACCEPT, list(user_ids))
        else:
            await self._client._request(
                waiting_room_decision=S.WaitingRoomDecision(action=S.WAITING_ROOM_ACTION_ACCEPT, all=True)
            )

    async def reject_waiting_room_request(self, peer_id: str) -> None:
        await self._decide(S.WAITING_ROOM_ACTION_REJECT, [peer_id])

    async def _decide(self, action: int, ids: list[str]) -> None:
        await self._client._request(waiting_room_decision=S.WaitingRoomDecision(action=action, peer_ids=ids))

    async def get_waiting_room_requests(self) -> list[WaitlistedParticipant]:
        """Ask the server for the current waiting list (also refreshes `waitlisted`)."""
        reply = await self._client._request(waiting_room_list=S.WaitingRoomList())
        if reply.HasField("waiting_room_requests"):
            self._client._on_waiting_room(reply.waiting_room_requests.requests)
        return self.waitlisted.to_list()

    # -- moderation ------------------------------------------------------------------------------

    async def kick(self, peer_id: str) -> None:
        """Remove a peer (peer id or user id) from the session (kick_participant)."""
        await self._client._request(kick=S.KickRequest(peer_ids=[peer_id]))

    async def kick_all(self) -> None:
        """Remove everybody and end the session for all (kick_participant)."""
        await self._client._request(kick=S.KickRequest(all=True))

    async def disable_audio(self, peer_id: str) -> None:
        await self._client._request(mute=S.MuteRequest(peer_ids=[peer_id], kind=wire.session_pb2.MEDIA_KIND_AUDIO))

    async def disable_video(self, peer_id: str) -> None:
        await self._client._request(mute=S.MuteRequest(peer_ids=[peer_id], kind=wire.session_pb2.MEDIA_KIND_VIDEO))

    async def disable_all_audio(self, allow_unmute: bool = False) -> None:
        await self._client._request(
            mute=S.MuteRequest(all=True, kind=wire.session_pb2.MEDIA_KIND_AUDIO, allow_unmute=allow_unmute)
        )

    async def disable_all_video(self) -> None:
        await self._client._request(mute=S.MuteRequest(all=True, kind=wire.session_pb2.MEDIA_KIND_VIDEO))

    # -- media subscriptions (reference §10.4) -------------------------------------------------

    async def subscribe(self, peer_ids: list[str], kinds: list[str] | str | None = None) -> None:
        """Receive these peers' tracks (peer or participant ids); `kinds` among audio, video,
        screenshare, screenshareAudio (default: all)."""
        await self._client._media.subscribe(list(peer_ids), kinds)

    async def unsubscribe(self, peer_ids: list[str], kinds: list[str] | str | None = None) -> None:
        """Stop receiving these peers' tracks."""
        await self._client._media.unsubscribe(list(peer_ids), kinds)

    async def set_subscriptions(self, peer_ids: list[str], kinds: list[str] | str | None = None) -> None:
        """Receive exactly these peers' tracks, nobody else's (also those who join later)."""
        await self._client._media.set_subscriptions(list(peer_ids), kinds)

    async def subscribe_all(self, kinds: list[str] | str | None = None) -> None:
        """Receive every participant's tracks, now and later (the default after join)."""
        await self._client._media.subscribe_all(kinds)

    # -- messaging -------------------------------------------------------------------------------

    async def broadcast_message(self, type: str, payload: dict[str, Any], target: dict[str, list[str]] | None = None) -> None:  # noqa: A002
        """Send a custom message (at most 5 per second). `target` is `{"participant_ids": [...]}`
        or `{"preset_names": [...]}`; without it everybody receives it, the sender included."""
        body = struct_pb2.Struct()
        body.update(payload or {})
        message = S.BroadcastSend(type=type, payload=body)
        if target:
            ids = target.get("participant_ids") or target.get("participantIds") or []
            presets = target.get("preset_names") or target.get("presetNames") or []
            message.target.CopyFrom(S.BroadcastTarget(participant_ids=list(ids), preset_names=list(presets)))
        await self._client._request(broadcast=message)
