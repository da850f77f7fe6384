"""Kick, kick-all, mute, pin — over signaling and through the REST-facing RPCs."""

from __future__ import annotations

import grpc
import pytest
from realtime.auth.v1 import auth_service_pb2
from realtime.session.v1 import session_pb2 as S
from realtime.session.v1 import session_service_pb2 as pb
from realtime.signaling.v1 import signal_pb2 as sig


async def token_reason(world, token: str) -> str:
    try:
        await world.auth.VerifyParticipantToken(auth_service_pb2.VerifyParticipantTokenRequest(token=token),
                                                metadata=world.md)
    except grpc.aio.AioRpcError as exc:
        from rtkit.errors import decode_rpc_error

        return decode_rpc_error(exc).reason or exc.code().name
    return "VALID"


async def test_kick_all_ends_the_session_and_revokes_tokens(world):
    mid = await world.meeting()
    host_p, host_token = await world.participant(mid, "group_call_host", "Host")
    guest_p, guest_token = await world.participant(mid, "group_call_participant", "Guest")
    host = await world.join(mid, "group_call_host", participant=host_p)
    guest = await world.join(mid, "group_call_participant", participant=guest_p)
    assert await token_reason(world, guest_token) == "VALID"

    refused = await guest.send(kick=sig.KickRequest(all=True))
    assert refused.error.reason == "PERMISSION_DENIED_BY_PRESET" and refused.error.code == "1201"

    response = await world.sessions.KickAllParticipants(
        pb.KickAllParticipantsRequest(app_id=world.app_id, meeting_id=mid), metadata=world.md)
    assert response.kicked_participants_count == 2
    assert response.session.status == S.SESSION_STATUS_ENDED
    assert response.session.end_reason == S.SESSION_END_REASON_HOST_ENDED_MEETING
    for peer in (host, guest):
        assert (await peer.expect("room_state")).state == S.ROOM_STATE_ENDED
    assert await token_reason(world, guest_token) == "TOKEN_REVOKED"
    assert await token_reason(world, host_token) == "TOKEN_REVOKED"
    (ended,) = await world.wait_event("session_ended")
    assert ended.session_ended.reason == S.SESSION_END_REASON_HOST_ENDED_MEETING
    await world.wait_event("chat_synced")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await world.sessions.KickAllParticipants(pb.KickAllParticipantsRequest(app_id=world.app_id, meeting_id=mid),
                                                 metadata=world.md)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    gone = await host.send(chat_send=sig.ChatSend(message="still here?"))
    assert gone.error.reason == "PEER_NOT_FOUND"


async def test_host_kicks_a_participant(world):
    mid = await world.meeting()
    host = await world.join(mid, "group_call_host", "Host")
    guest_p, guest_token = await world.participant(mid, "group_call_participant", "Guest")
    guest = await world.join(mid, "group_call_participant", participant=guest_p)
    other = await world.join(mid, "group_call_participant", "Other")
    refused = await other.send(kick=sig.KickRequest(peer_ids=[guest.peer_id]))
    assert refused.error.code == "1201"
    await host.ok(kick=sig.KickRequest(peer_ids=[guest.user_id]))
    state = await guest.expect("room_state")
    assert state.state == S.ROOM_STATE_KICKED and state.actor_peer_id == host.peer_id
    left = await other.expect("participant_left", lambda x: x.peer_id == guest.peer_id)
    assert left.state == S.ROOM_STATE_KICKED
    assert await token_reason(world, guest_token) == "TOKEN_REVOKED"
    (kicked,) = await world.wait_event("participants_kicked")
    assert list(kicked.participants_kicked.participant_ids) == [guest.user_id]


async def test_rest_kick_by_custom_id_and_mute(world):
    mid = await world.meeting()
    guest_p, _ = await world.participant(mid, "group_call_participant", "Guest", custom_id="crm-42")
    guest = await world.join(mid, "group_call_participant", participant=guest_p)
    other = await world.join(mid, "group_call_participant", "Other")
    await guest.ok(media_update=sig.MediaStateUpdate(audio_enabled=True, video_enabled=True))

    muted = await world.sessions.MuteParticipants(pb.MuteParticipantsRequest(
        app_id=world.app_id, meeting_id=mid, custom_participant_ids=["crm-42"]), metadata=world.md)
    assert [p.id for p in muted.participants] == [guest.user_id]
    moderation = await guest.expect("media_moderation")
    assert moderation.kind == S.MEDIA_KIND_AUDIO and not moderation.allow_unmute
    update = await other.expect("participant_updated", lambda u: not u.participant.audio_enabled)
    assert update.participant.video_enabled and update.changed_fields == ["audio_enabled"]
    locked = await guest.send(media_update=sig.MediaStateUpdate(audio_enabled=True))
    assert locked.error.reason == "FORBIDDEN"

    everyone = await world.sessions.MuteAllParticipants(pb.MuteAllParticipantsRequest(
        app_id=world.app_id, meeting_id=mid, allow_unmute=True, kinds=[S.MEDIA_KIND_VIDEO]), metadata=world.md)
    assert everyone.muted_participants_count == 2
    assert (await guest.expect("media_moderation")).kind == S.MEDIA_KIND_VIDEO
    await guest.ok(media_update=sig.MediaStateUpdate(video_enabled=True))  # allow_unmute

    kicked = await world.sessions.KickParticipants(pb.KickParticipantsRequest(
        app_id=world.app_id, meeting_id=mid, custom_participant_ids=["crm-42"]), metadata=world.md)
    assert [(p.id, p.name) for p in kicked.participants] == [(guest.user_id, "Guest")]
    assert (await guest.expect("room_state")).state == S.ROOM_STATE_KICKED
    assert (await world.active(mid)).live_participants == 1


async def test_signaling_mute_and_pin_need_preset_rights(world):
    mid = await world.meeting()
    host = await world.join(mid, "group_call_host", "Host")
    guest = await world.join(mid, "group_call_participant", "Guest")
    assert (await guest.send(mute=sig.MuteRequest(peer_ids=[host.peer_id]))).error.reason == \
        "PERMISSION_DENIED_BY_PRESET"
    assert (await guest.send(pin=sig.PinRequest(peer_id=host.peer_id))).error.reason == "PERMISSION_DENIED_BY_PRESET"
    await host.ok(mute=sig.MuteRequest(all=True, allow_unmute=True))
    assert (await guest.expect("media_moderation")).allow_unmute
    await host.ok(pin=sig.PinRequest(peer_id=guest.peer_id))
    assert (await guest.expect("pinned")).pinned
    assert (await host.expect("pinned")).peer_id == guest.peer_id
    sync = (await host.ok(sync=sig.SyncRequest())).join_response
    assert list(sync.pinned_peer_ids) == [guest.peer_id]
    assert [p.is_pinned for p in sync.participants] == [True]
    await host.ok(pin=sig.PinRequest(peer_id=guest.peer_id, unpin=True))
    assert not (await guest.expect("pinned")).pinned


async def test_deleting_a_participant_removes_its_peers(world):
    from realtime.meeting.v1 import participant_service_pb2

    mid = await world.meeting()
    host = await world.join(mid, "group_call_host", "Host")
    guest = await world.join(mid, "group_call_participant", "Guest")
    await world.participants.DeleteParticipant(participant_service_pb2.DeleteParticipantRequest(
        app_id=world.app_id, meeting_id=mid, participant_id=guest.user_id), metadata=world.md)
    assert (await guest.expect("room_state")).state == S.ROOM_STATE_KICKED
    assert (await host.expect("participant_left")).peer_id == guest.peer_id
