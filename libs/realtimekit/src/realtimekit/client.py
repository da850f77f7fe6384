"""`RealtimeKitClient`: the meeting object of the Core SDK, in Python.

    meeting = await RealtimeKitClient.init(auth_token=token, base_url=gateway_url)
    await meeting.join()
    meeting.self.room_state            # "joined" or "waitlisted"
    await meeting.chat.send_text_message("hi")
    await meeting.leave()

One signaling socket per meeting (transport.py). A dropped socket is resumed within the server's
resume window with the resume token from the last JoinResponse: the peer keeps its id and state
and `self` emits `roomLeft({state: "disconnected"})`, then `roomJoined({reconnected: True})`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import time
from typing import Any

import aiohttp

from realtimekit import wire
from realtimekit.chat import Chat
from realtimekit.errors import (
    CODE_INVALID_STATE,
    CODE_INVALID_TOKEN,
    AuthError,
    ClientError,
    ConnectionLost,
)
from realtimekit.media import MediaSession, ReceivedTrack
from realtimekit.meta import Meta
from realtimekit.participants import Participant, Participants, WaitlistedParticipant
from realtimekit.polls import Polls
from realtimekit.self_participant import Permissions, SelfParticipant
from realtimekit.stage import Stage
from realtimekit.transport import FINAL_CLOSE_CODES, SignalingSocket, SocketClosed

log = logging.getLogger("realtimekit")

SDK_NAME = "realtimekit-python"
SDK_VERSION = "0.1.0"

S = wire.signal_pb2
_TERMINAL = frozenset({"rejected", "kicked", "left", "ended"})


def token_claims(auth_token: str) -> dict[str, Any]:
    """The token's claims, read without verification (as the JS SDK does: the server verifies)."""
    try:
        payload = auth_token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError, TypeError):
        raise AuthError(CODE_INVALID_TOKEN, "Invalid auth token.", "TOKEN_INVALID") from None
    if not isinstance(claims, dict):
        raise AuthError(CODE_INVALID_TOKEN, "Invalid auth token.", "TOKEN_INVALID")
    return claims


class RealtimeKitClient:
    """The meeting. Modules: `self`, `participants`, `stage`, `chat`, `polls`, `meta`."""

    def __init__(
        self,
        auth_token: str,
        base_url: str,
        *,
        meeting_id: str = "",
        display_name: str = "",
        auto_reconnect: bool = True,
        request_timeout: float = 10.0,
        auto_subscribe: bool = True,
        ice_servers: list[Any] | None = None,
    ) -> None:
        self._token = auth_token
        self._base_url = base_url.rstrip("/")
        self._display_name = display_name
        self._request_timeout = request_timeout
        self.auto_reconnect = auto_reconnect
        self.self = SelfParticipant(self)
        self.participants = Participants(self)
        self.stage = Stage(self)
        self.chat = Chat(self)
        self.polls = Polls(self)
        self.meta = Meta(meeting_id)
        self._socket: SignalingSocket | None = None
        self._session: aiohttp.ClientSession | None = None
        self._resume_token = ""
        self._resume_window = 0.0
        self._heartbeat_interval = 10.0
        self._disconnected_at = 0.0
        self._reconnect_task: asyncio.Task[None] | None = None
        self._was_waitlisted = False
        self._leaving = False
        self._defaults: dict[str, Any] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._location: Any = None
        self._media = MediaSession(self, auto_subscribe=auto_subscribe, ice_servers=ice_servers)
        self.meta.join_timing = self._media.timing

    def received_tracks(self) -> list[ReceivedTrack]:
        """Every live track this client receives, with its RTP receiver (for recorders and bots
        that tap the encoded stream; applications use `participant.video_track` & co.)."""
        return self._media.received_tracks()

    # -- lifecycle ---------------------------------------------------------------------------

    @classmethod
    async def init(
        cls,
        auth_token: str,
        base_url: str | None = None,
        *,
        base_uri: str | None = None,
        defaults: dict[str, Any] | None = None,
        display_name: str = "",
        auto_reconnect: bool = True,
        request_timeout: float = 10.0,
        auto_subscribe: bool = True,
        ice_servers: list[Any] | None = None,
    ) -> RealtimeKitClient:
        """Validate the token and open the signaling socket (the server verifies the token;
        a refused token raises `AuthError`).

        `defaults`: RealtimeKit's init defaults; `mediaConfiguration.video` / `.screenshare`
        (`width`, `height`, `frameRate`) size the synthetic sources. `auto_subscribe`: receive
        every participant's tracks after join (else pick with `participants.subscribe`).
        `ice_servers`: STUN/TURN for the media connections (`RTCIceServer` or dicts)."""
        url = base_url or base_uri
        if not url:
            raise ClientError("0001", "base_url is required (the gateway URL).")
        claims = token_claims(auth_token)
        meeting_id = str(claims.get("meetingId") or "")
        if not meeting_id:
            raise ClientError("0404", "The auth token names no meeting.", "TOKEN_INVALID")
        meeting = cls(auth_token, url, meeting_id=meeting_id, display_name=display_name,
                      auto_reconnect=auto_reconnect, request_timeout=request_timeout,
                      auto_subscribe=auto_subscribe, ice_servers=ice_servers)
        meeting._defaults = dict(defaults or {})
        try:
            await meeting._connect()
        except BaseException:
            await meeting.close()
            raise
        return meeting

    async def join(self) -> None:
        """Join the session: `self.room_state` becomes `joined` (roomJoined) or `waitlisted`."""
        if self.self.room_state in ("joined", "waitlisted"):
            return
        if self._socket is None or not self._socket.connected:
            await self._connect()
        self._leaving = False
        self._media.timing.start()
        request = S.JoinRequest(display_name=self._display_name, client=self._client_info())
        if self._location is not None:
            request.location.CopyFrom(self._location)
        reply = await self._request(join=request)
        self._apply_join(reply.join_response, reconnected=False)

    join_room = join

    def set_location_hint(self, region: str | None = None, latitude: float | None = None,
                          longitude: float | None = None) -> None:
        """Where this client is, sent with `join()` so that the session's first peer lands on the
        nearest media server (a region name of the gateway's table, or coordinates)."""
        hint = S.MediaLocationHint()
        if region:
            hint.region = region
        if latitude is not None and longitude is not None:
            hint.latitude, hint.longitude = float(latitude), float(longitude)
        self._location = hint if (region or latitude is not None) else None

    async def leave(self, state: str = "left") -> None:
        """Leave for good: room state `left`, `roomLeft({state: "left"})`, socket closed."""
        self._leaving = True
        if self._reconnect_task is not None:
            self._reconnect_task.cancel()
        socket = self._socket
        if socket is not None and socket.connected and self.self.room_state in ("joined", "waitlisted"):
            with contextlib.suppress(ClientError):
                await socket.request(leave=S.LeaveRequest())
        if self.self.room_state not in _TERMINAL:
            self._set_room_state("left")
        await self.close()

    leave_room = leave

    async def close(self) -> None:
        """Close the socket without leaving (the peer becomes `disconnected` on the server)."""
        self._leaving = True
        if self._reconnect_task is not None:
            self._reconnect_task.cancel()
        await self._media.close()
        if self._socket is not None:
            await self._socket.close()
        if self._session is not None and not self._session.closed:
            await self._session.close()

    async def reconnect(self) -> None:
        """Resume the peer on a new socket (automatic after a drop unless auto_reconnect=False).

        Raises ClientError when the resume is refused, e.g. after the resume window."""
        if not self._resume_token or not self.self.id:
            raise ClientError(CODE_INVALID_STATE, "Nothing to resume: join first.")
        if self._socket is not None:
            await self._socket.close()
        await self._connect()
        self._leaving = False
        try:
            reply = await self._request(
                join=S.JoinRequest(
                    display_name=self._display_name,
                    resume_token=self._resume_token,
                    peer_id=self.self.id,
                    client=self._client_info(),
                )
            )
        except ClientError:
            self.meta._socket("failed")
            raise
        self._apply_join(reply.join_response, reconnected=True)

    # -- requests ----------------------------------------------------------------------------

    async def _connect(self) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        socket = SignalingSocket(
            self._base_url,
            self._token,
            meeting_id=self.meta.meeting_id,
            on_message=self._on_message,
            on_closed=lambda closed: self._on_socket_closed(socket, closed),
            request_timeout=self._request_timeout,
            session=self._session,
        )
        self._socket = socket
        try:
            await socket.connect()
        except ClientError:
            await socket.close()
            raise
        socket.start_heartbeats(self._heartbeat_interval)
        self.meta._socket("connected")

    async def _request(self, **fields: Any) -> wire.ServerMessage:
        if self._socket is None or not self._socket.connected:
            raise ClientError("0014", "Not connected to the meeting.")
        return await self._socket.request(**fields)

    def _client_info(self) -> Any:
        return wire.peer_pb2.ClientInfo(sdk_name=SDK_NAME, sdk_version=SDK_VERSION,
                                        user_agent=f"{SDK_NAME}/{SDK_VERSION} aiohttp/{aiohttp.__version__}")

    # -- incoming ----------------------------------------------------------------------------

    def _on_message(self, message: wire.ServerMessage) -> None:
        kind = message.WhichOneof("message")
        handler = getattr(self, f"_on_{kind}", None) if kind else None
        if handler is not None:
            handler(getattr(message, kind), message)

    def _on_join_response(self, join: Any, message: wire.ServerMessage) -> None:
        if not message.request_id:  # pushed: admitted from the waiting room
            self._apply_join(join, reconnected=False)

    def _on_room_state(self, change: Any, _: wire.ServerMessage) -> None:
        state = wire.room_state(change.state)
        if state:
            self._set_room_state(state, message=change.message)

    def _on_participant_joined(self, joined: Any, _: wire.ServerMessage) -> None:
        self._upsert(joined.participant)

    def _on_participant_left(self, left: Any, _: wire.ServerMessage) -> None:
        participant = self.participants.joined._remove(left.peer_id)
        self.participants.pinned._remove(left.peer_id)
        if participant is not None:
            self.participants.emit("participantLeft", participant)
            state = wire.room_state(left.state)
            if state == "kicked":
                participant.emit("kicked", {"id": participant.id})
                self.participants.emit("kicked", {"id": participant.id})

    def _on_participant_updated(self, updated: Any, _: wire.ServerMessage) -> None:
        info = updated.participant
        if info.id == self.self.id:
            before = (self.self.audio_enabled, self.self.video_enabled, self.self.stage_status, self.self.is_pinned)
            self.self._update(info)
            self._emit_self_changes(before)
            return
        self._upsert(info, changed_fields=list(updated.changed_fields))

    def _on_waiting_room_requests(self, requests: Any, _: wire.ServerMessage) -> None:
        self._on_waiting_room(requests.requests)

    def _on_stage_status(self, change: Any, _: wire.ServerMessage) -> None:
        status = wire.stage_status(change.status)
        if change.peer_id and change.peer_id != self.self.id:
            participant = self.participants.joined.get(change.peer_id)
            if participant is not None and participant.stage_status != status:
                participant.stage_status = status
                participant.emit("stageStatusUpdate", status)
                self.stage.emit("peerStageStatusUpdate", {"peer_id": participant.id, "status": status})
            return
        previous = self.self.stage_status
        self.self.stage_status = status
        if previous == "ON_STAGE" and status != "ON_STAGE":  # off stage: nothing may stay published
            self._spawn(self._media.stop_all(), "realtimekit-media-offstage")
        if status != previous:
            self.self.emit("stageStatusUpdate", status)
            self.stage.emit("stageStatusUpdate", status)
        if change.reason == "grantAccess" and status == "ACCEPTED_TO_JOIN_STAGE":
            self.stage.emit("stageRequestApproved")
            self.stage.emit("acceptPresentRequests")
        elif change.reason == "denyAccess":
            self.stage.emit("stageRequestRejected")

    def _on_stage_requests(self, requests: Any, _: wire.ServerMessage) -> None:
        self.stage._set_requests(requests.requests)

    def _on_media_offer(self, _offer: Any, message: wire.ServerMessage) -> None:
        self._media.on_push(message)

    _on_media_tracks = _on_media_offer
    _on_active_speaker = _on_media_offer

    def _on_remote_track(self, peer_id: str, kind: str) -> None:
        """The media module attached or detached a remote track of `peer_id`."""
        participant = self.participants.joined.get(peer_id)
        if participant is not None:
            participant._emit_media(kind)

    def _on_active_speaker_changed(self, peer_id: str, volume: int) -> None:
        self.participants.last_active_speaker = peer_id
        self.participants.emit("activeSpeaker", {"peer_id": peer_id, "volume": volume})

    def _spawn(self, coro: Any, name: str) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _on_media_moderation(self, moderation: Any, _: wire.ServerMessage) -> None:
        kind = wire.media_kind(moderation.kind)
        self._spawn(self._media.stop_for_moderation(kind), "realtimekit-media-moderation")
        payload = {"kind": kind, "allow_unmute": moderation.allow_unmute, "actor_peer_id": moderation.actor_peer_id}
        if kind == "audio" and self.self.audio_enabled:
            self.self.audio_enabled = False
            self.self.emit("audioUpdate", {"audio_enabled": False, "audio_track": None})
        elif kind == "video" and self.self.video_enabled:
            self.self.video_enabled = False
            self.self.emit("videoUpdate", {"video_enabled": False, "video_track": None})
        elif kind == "screenshare" and self.self.screen_share_enabled:
            self.self.screen_share_enabled = False
            self.self.emit("screenShareUpdate", {"screen_share_enabled": False,
                                                 "screen_share_tracks": {"video": None, "audio": None}})
        self.self.emit("mediaModeration", payload)

    def _on_pinned(self, pinned: Any, _: wire.ServerMessage) -> None:
        event = "pinned" if pinned.pinned else "unpinned"
        if pinned.peer_id == self.self.id:
            if self.self.is_pinned != pinned.pinned:
                self.self.is_pinned = pinned.pinned
                self.self.emit(event)
            return
        participant = self.participants.joined.get(pinned.peer_id)
        if participant is None:
            return
        participant.is_pinned = pinned.pinned
        if pinned.pinned:
            self.participants.pinned._add(participant)
        else:
            self.participants.pinned._remove(participant.id)
        participant.emit(event)
        self.participants.emit(event, participant)

    def _on_chat_message(self, message: Any, _: wire.ServerMessage) -> None:
        self.chat._add(message)

    def _on_poll_updated(self, update: Any, _: wire.ServerMessage) -> None:
        self.polls._update(update.poll, new=update.new_poll)

    def _on_broadcast(self, broadcast: Any, _: wire.ServerMessage) -> None:
        self.participants.emit(
            "broadcastedMessage",
            {
                "type": broadcast.type,
                "payload": wire.json_format.MessageToDict(broadcast.payload),
                "timestamp": wire.timestamp(broadcast, "timestamp"),
                "from_peer_id": broadcast.from_peer_id,
                "from_user_id": broadcast.from_user_id,
            },
        )

    def _on_error(self, error: Any, message: wire.ServerMessage) -> None:
        if not message.request_id:
            self.meta.emit("error", {"code": error.code, "reason": error.reason, "message": error.message})

    # -- state -------------------------------------------------------------------------------

    def _apply_join(self, join: Any, *, reconnected: bool) -> None:
        state = wire.room_state(join.room_state) or "joined"
        if join.resume_token:
            self._resume_token = join.resume_token
        if join.resume_window_seconds:
            self._resume_window = float(join.resume_window_seconds)
        if join.heartbeat_interval_seconds:
            self._heartbeat_interval = float(join.heartbeat_interval_seconds)
            if self._socket is not None:
                self._socket.heartbeat_interval = self._heartbeat_interval
        self.self.id = join.peer_id or self.self.id
        if join.HasField("self"):
            self.self._update(join.self)
        self.self.permissions = Permissions(join.permissions)
        self.meta.session_id = join.session_id or self.meta.session_id
        if join.HasField("media"):
            media = join.media
            self.meta.media = {
                "node_id": media.node_id, "region": media.region,
                "reason": wire.placement_reason(media.reason), "location_source": media.location_source,
                "distance_km": media.distance_km,
            }
        if join.HasField("meeting"):
            self.meta.meeting_id = join.meeting.id or self.meta.meeting_id
            self.meta.meeting_title = join.meeting.title
            self.meta.view_type = wire.view_type(join.meeting.view_type)
            self.meta.meeting_started_timestamp = wire.timestamp(join.meeting, "session_start_time")
        # Remote peers: replace the map with the snapshot, emitting the differences.
        present = {info.id for info in join.participants if info.id != self.self.id}
        for peer_id in [p for p in self.participants.joined if p not in present]:
            participant = self.participants.joined._remove(peer_id)
            self.participants.pinned._remove(peer_id)
            if participant is not None:
                self.participants.emit("participantLeft", participant)
        for info in join.participants:
            if info.id != self.self.id:
                self._upsert(info)
        pinned = set(join.pinned_peer_ids)
        for participant in self.participants.joined.values():
            participant.is_pinned = participant.is_pinned or participant.id in pinned
        self._on_waiting_room(join.waiting_room_requests)
        if join.HasField("stage"):
            self.stage._set_state(join.stage)
        if join.stage_requests or self.stage.access_requests:
            self.stage._set_requests(join.stage_requests)
        self.chat._reset(list(join.chat))
        self.polls._reset(list(join.polls))
        if state == "waitlisted":
            self._was_waitlisted = True
        self._set_room_state(state, reconnected=reconnected or join.reconnected)
        if state == "joined":
            self._media.on_joined(reconnected or join.reconnected)

    def _upsert(self, info: Any, changed_fields: list[str] | None = None) -> None:
        if info.id == self.self.id:
            return
        joined = self.participants.joined
        participant = joined.get(info.id)
        if participant is None:
            participant = Participant(self, info.id)
            participant._update(info)
            joined._add(participant)
            if participant.is_pinned:
                self.participants.pinned._add(participant)
            self.participants.emit("participantJoined", participant)
            for kind in ("audio", "video", "screenshare"):
                if self._media.track_of(participant.id, kind) is not None:
                    participant._emit_media(kind)
            return
        before = (participant.audio_enabled, participant.video_enabled, participant.screen_share_enabled,
                  participant.stage_status, participant.is_pinned)
        changed = participant._update(info)
        if not changed:
            return
        if participant.audio_enabled != before[0]:
            participant._emit_media("audio")
        if participant.video_enabled != before[1]:
            participant._emit_media("video")
        if participant.screen_share_enabled != before[2]:
            participant._emit_media("screenshare")
        if participant.stage_status != before[3]:
            participant.emit("stageStatusUpdate", participant.stage_status)
            self.stage.emit("peerStageStatusUpdate", {"peer_id": participant.id, "status": participant.stage_status})
        if participant.is_pinned != before[4]:
            if participant.is_pinned:
                self.participants.pinned._add(participant)
            else:
                self.participants.pinned._remove(participant.id)
        participant.emit("participantUpdated", {"changed": changed})
        self.participants.emit("participantUpdated", participant, changed_fields or changed)

    def _emit_self_changes(self, before: tuple[Any, ...]) -> None:
        me = self.self
        if me.audio_enabled != before[0]:
            me.emit("audioUpdate", {"audio_enabled": me.audio_enabled, "audio_track": me.audio_track})
        if me.video_enabled != before[1]:
            me.emit("videoUpdate", {"video_enabled": me.video_enabled, "video_track": me.video_track})
        if me.stage_status != before[2]:
            me.emit("stageStatusUpdate", me.stage_status)
            self.stage.emit("stageStatusUpdate", me.stage_status)
        if me.is_pinned != before[3]:
            me.emit("pinned" if me.is_pinned else "unpinned")

    def _on_waiting_room(self, requests: Any) -> None:
        waitlisted = self.participants.waitlisted
        wanted = {r.peer_id: r for r in requests}
        for peer_id in [p for p in waitlisted if p not in wanted]:
            item = waitlisted._remove(peer_id)
            if item is not None:
                self.participants.emit("waitlistedParticipantLeft", item)
        for request in requests:
            if request.peer_id not in waitlisted:
                item = WaitlistedParticipant(request)
                waitlisted._add(item)
                self.participants.emit("waitlistedParticipantJoined", item)
        self.participants.emit("waitingRoomRequestsUpdate", waitlisted.to_list())

    def _set_room_state(self, state: str, *, reconnected: bool = False, message: str = "") -> None:
        previous = self.self.room_state
        if state == previous and state != "joined":
            return
        if state == "joined" and previous == "joined" and not reconnected:
            return
        self.self.room_state = state
        if state == "joined":
            self.self.emit("roomJoined", {"reconnected": reconnected})
        elif state == "waitlisted":
            self.self.emit("waitlisted")
        elif state in _TERMINAL or state == "disconnected":
            if state in _TERMINAL:
                self._leaving = True
                self._spawn(self._media.close(), "realtimekit-media-close")
            self.self.emit("roomLeft", {"state": state, "message": message})

    # -- socket loss and resume ----------------------------------------------------------------

    def _on_socket_closed(self, socket: SignalingSocket, closed: SocketClosed) -> None:
        if socket is not self._socket:
            return
        self.meta._socket("disconnected")
        if closed.initiated_locally or self._leaving:
            return
        if closed.code in FINAL_CLOSE_CODES:
            # Closed for good without a room-state push (e.g. the peer was gone at a heartbeat).
            if self.self.room_state in ("joined", "waitlisted"):
                self._set_room_state("disconnected")
                self.meta._socket("failed")
                error = closed.last_error
                self.self.emit("reconnectFailed", ConnectionLost(
                    "0012", error.message if error else f"The server closed the connection ({closed.code})."))
            return
        if self.self.room_state not in ("joined", "waitlisted"):
            return
        self._disconnected_at = time.monotonic()
        self._set_room_state("disconnected")
        if self.auto_reconnect and self._resume_token:
            self._reconnect_task = asyncio.get_running_loop().create_task(self._reconnect_loop())

    async def _reconnect_loop(self) -> None:
        deadline = self._disconnected_at + max(self._resume_window, 5.0)
        attempt = 0
        delay = 0.1
        while time.monotonic() < deadline and not self._leaving:
            attempt += 1
            self.meta._socket("reconnecting", attempt)
            try:
                await self.reconnect()
            except AuthError as exc:  # token revoked or resume refused: final
                self.meta._socket("failed", attempt)
                self.self.emit("reconnectFailed", exc)
                return
            except ClientError as exc:
                if exc.reason in ("PEER_NOT_FOUND", "WAITING_ROOM_REJECTED", "MEETING_INACTIVE"):
                    self.meta._socket("failed", attempt)
                    self.self.emit("reconnectFailed", exc)
                    return
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
                continue
            self.meta._socket("connected", attempt, reconnected=True)
            return
        if not self._leaving:
            self.meta._socket("failed", attempt)
            self.self.emit("reconnectFailed", ConnectionLost("0012", "Could not resume within the resume window."))
