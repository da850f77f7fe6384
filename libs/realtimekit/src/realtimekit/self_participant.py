"""`meeting.self`: the local participant (reference §10.3).

Events: `roomJoined({reconnected})`, `waitlisted`, `roomLeft({state})`, `stageStatusUpdate(status)`,
`audioUpdate({audio_enabled})`, `videoUpdate({video_enabled})`, `screenShareUpdate(...)`,
`mediaModeration({kind, allow_unmute, actor_peer_id})`, `pinned`, `unpinned`, `permissionsUpdate`.

Media: `enable_audio(track=None)`, `enable_video(track=None)`, `enable_screen_share(track)`,
`disable_*()`; `audio_track`, `video_track`, `screen_share_tracks`. Publishing goes through the
media module (realtimekit.media: the SFU connection), then `_publish_media_state()` tells the
session (MediaStateUpdate), which pushes `participantUpdated` to the others.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from google.protobuf.descriptor import FieldDescriptor

from realtimekit import wire
from realtimekit.events import EventEmitter

if TYPE_CHECKING:
    from realtimekit.client import RealtimeKitClient


class Permissions:
    """Read-only view of the preset's permissions (`meeting.self.permissions`): the proto field
    names (snake_case), enum values as strings (`stage_access == "CAN_REQUEST"`)."""

    def __init__(self, message: Any | None = None) -> None:
        self._message = message if message is not None else wire.preset_pb2.PresetPermissions()

    def __getattr__(self, name: str) -> Any:
        message = self.__dict__.get("_message")
        if message is None or name not in message.DESCRIPTOR.fields_by_name:
            raise AttributeError(name)
        field = message.DESCRIPTOR.fields_by_name[name]
        value = getattr(message, name)
        repeated = field.is_repeated if hasattr(field, "is_repeated") else field.label == 3
        if field.type == FieldDescriptor.TYPE_ENUM and not repeated:
            enum = field.enum_type
            prefix = "".join(("_" + c if c.isupper() else c) for c in enum.name).lstrip("_").upper() + "_"
            return enum.values_by_number[value].name.removeprefix(prefix) if value in enum.values_by_number else ""
        if field.type == FieldDescriptor.TYPE_MESSAGE and not repeated:
            return Permissions(value)
        return value

    @property
    def proto(self) -> Any:
        return self._message

    def to_dict(self) -> dict[str, Any]:
        return wire.to_dict(self._message)

    def __repr__(self) -> str:
        return f"Permissions({self.to_dict()})"


_STATE_ARG = {"audio": "audio", "video": "video", "screenshare": "screen_share"}


class SelfParticipant(EventEmitter):
    def __init__(self, client: RealtimeKitClient) -> None:
        super().__init__()
        self._client = client
        self.id = ""
        self.user_id = ""
        self.name = ""
        self.picture = ""
        self.custom_participant_id = ""
        self.preset_name = ""
        self.preset_id = ""
        self.room_state = "init"
        self.stage_status = "OFF_STAGE"
        self.audio_enabled = False
        self.video_enabled = False
        self.screen_share_enabled = False
        self.is_pinned = False
        self.is_host = False
        self.flags: dict[str, bool] = {"recorder": False, "hidden_participant": False}
        self.permissions = Permissions()

    @property
    def peer_id(self) -> str:
        return self.id

    @property
    def room_joined(self) -> bool:
        return self.room_state == "joined"

    @property
    def waitlist_status(self) -> str:
        """`none` | `waiting` | `accepted` | `rejected` (web-core's self.waitlistStatus)."""
        return {"waitlisted": "waiting", "rejected": "rejected"}.get(
            self.room_state, "accepted" if self.room_state == "joined" and self._client._was_waitlisted else "none"
        )

    def _update(self, info: Any) -> None:
        self.id = info.id or self.id
        self.user_id = info.user_id
        self.name = info.name
        self.picture = info.picture
        self.custom_participant_id = info.custom_participant_id
        self.preset_name = info.preset_name
        self.preset_id = info.preset_id
        self.stage_status = wire.stage_status(info.stage_status)
        self.audio_enabled = info.audio_enabled
        self.video_enabled = info.video_enabled
        self.screen_share_enabled = info.screen_share_enabled
        self.is_pinned = info.is_pinned
        self.is_host = info.is_host
        self.flags = {"recorder": info.flags.recorder, "hidden_participant": info.flags.hidden_participant}

    async def pin(self) -> None:
        await self._client._request(pin=wire.signal_pb2.PinRequest(peer_id=self.id))

    async def unpin(self) -> None:
        await self._client._request(pin=wire.signal_pb2.PinRequest(peer_id=self.id, unpin=True))

    # -- media ----------------------------------------------------------------------------------

    @property
    def audio_track(self) -> Any:
        """The track published as microphone (None when off)."""
        return self._client._media.published_track("audio")

    @property
    def video_track(self) -> Any:
        """The track published as camera (None when off)."""
        return self._client._media.published_track("video")

    @property
    def screen_share_tracks(self) -> dict[str, Any]:
        media = self._client._media
        return {"video": media.published_track("screenshare"), "audio": media.published_track("screenshareAudio")}

    async def enable_audio(self, track: Any = None) -> Any:
        """Publish the microphone: `track` (an aiortc MediaStreamTrack of kind audio) or, when
        None, a synthetic tone. Raises the server's typed error (`PermissionDenied` with reason
        PERMISSION_DENIED_BY_PRESET / STAGE_ACCESS_NOT_ALLOWED / FORBIDDEN) when refused."""
        return await self._enable("audio", track)

    async def enable_video(self, track: Any = None) -> Any:
        """Publish the camera: `track` or, when None, a moving 640×480 test pattern."""
        return await self._enable("video", track)

    async def enable_screen_share(self, track: Any = None, audio_track: Any = None) -> Any:
        """Publish a screen share (its own track; a synthetic pattern when None), with optional
        screen share audio."""
        published = await self._enable("screenshare", track)
        if audio_track is not None:
            try:
                await self._client._media.publish("screenshareAudio", audio_track)
            except BaseException:
                await self.disable_screen_share()
                raise
        return published

    async def disable_audio(self) -> None:
        await self._disable("audio")

    async def disable_video(self) -> None:
        await self._disable("video")

    async def disable_screen_share(self) -> None:
        await self._client._media.unpublish("screenshareAudio")
        await self._disable("screenshare")

    async def _enable(self, label: str, track: Any) -> Any:
        media = self._client._media
        published = await media.publish(label, track)
        try:
            await self._publish_media_state(**{_STATE_ARG[label]: True})
        except BaseException:
            await media.unpublish(label)
            raise
        return published

    async def _disable(self, label: str) -> None:
        await self._client._media.unpublish(label)
        if self.room_state == "joined":
            await self._publish_media_state(**{_STATE_ARG[label]: False})

    async def _publish_media_state(
        self, *, audio: bool | None = None, video: bool | None = None, screen_share: bool | None = None
    ) -> None:
        """Tell the session what this peer publishes (the MediaStateUpdate message)."""
        update = wire.signal_pb2.MediaStateUpdate()
        if audio is not None:
            update.audio_enabled = audio
        if video is not None:
            update.video_enabled = video
        if screen_share is not None:
            update.screen_share_enabled = screen_share
        await self._client._request(media_update=update)
        for name, value in (("audio", audio), ("video", video), ("screen_share", screen_share)):
            if value is not None and getattr(self, f"{name}_enabled") != value:
                setattr(self, f"{name}_enabled", value)
                if name == "screen_share":
                    self.emit("screenShareUpdate", {"screen_share_enabled": value,
                                                    "screen_share_tracks": self.screen_share_tracks})
                else:
                    self.emit(f"{name}Update", {f"{name}_enabled": value, f"{name}_track": getattr(self, f"{name}_track")})

    def __repr__(self) -> str:
        return f"SelfParticipant(id={self.id!r}, name={self.name!r}, room_state={self.room_state!r})"
