"""Session lifecycle, peers, heartbeats and the resume window."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from google.protobuf import field_mask_pb2
from orch_support import HEARTBEAT, MISSES, RESUME_WINDOW
from realtime.meeting.v1 import meeting_pb2, meeting_service_pb2
from realtime.session.v1 import peer_pb2
from realtime.session.v1 import session_pb2 as S
from realtime.session.v1 import session_service_pb2 as pb
from realtime.signaling.v1 import signal_pb2 as sig


async def session_status(world, session_id):
    return (await world.sessions.GetSession(pb.GetSessionRequest(app_id=world.app_id, session_id=session_id),
                                            metadata=world.md)).session


async def wait_status(world, session_id, status, within=6.0):
    deadline = asyncio.get_running_loop().time() + within
    while True:
        session = await session_status(world, session_id)
        if session.status == status or asyncio.get_running_loop().time() > deadline:
            return session
        await asyncio.sleep(0.1)


async def test_session_lives_from_first_join_to_keep_alive_after_last_leave(world):
    mid = await world.meeting(keep_alive=1)
    a = await world.join(mid, "group_call_host", "A")
    b = await world.join(mid, "group_call_participant", "B")
    assert a.join_response.session_id == b.join_response.session_id  # one live session per meeting
    session_id = a.join_response.session_id
    live = await world.active(mid)
    assert live.id == session_id and live.status == S.SESSION_STATUS_LIVE and live.live_participants == 2
    assert live.max_concurrent_participants == 2 and live.meeting_display_name == "Test meeting"

    await a.ok(leave=sig.LeaveRequest())
    left = await b.expect("participant_left")
    assert left.peer_id == a.peer_id and left.state == S.ROOM_STATE_LEFT
    await world.sessions.LeavePeer(pb.LeavePeerRequest(peer_id=b.peer_id), metadata=world.md)
    await world.sessions.LeavePeer(pb.LeavePeerRequest(peer_id=b.peer_id), metadata=world.md)  # idempotent
    assert (await session_status(world, session_id)).status == S.SESSION_STATUS_LIVE  # keep-alive running

    ended = await wait_status(world, session_id, S.SESSION_STATUS_ENDED)
    assert ended.status == S.SESSION_STATUS_ENDED and ended.end_reason == S.SESSION_END_REASON_ALL_PARTICIPANTS_LEFT
    assert ended.live_participants == 0 and ended.participants_count == 2 and ended.minutes_consumed > 0
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await world.active(mid)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    (event,) = await world.wait_event("session_ended")
    assert event.session_ended.reason == S.SESSION_END_REASON_ALL_PARTICIPANTS_LEFT
    (synced,) = await world.wait_event("chat_synced")
    assert synced.chat_synced.chat_download_url.startswith("http")
    left_events = await world.wait_event("participant_left", 2)
    assert {e.participant_left.peer.leave_state for e in left_events} == {S.ROOM_STATE_LEFT}

    c = await world.join(mid, "group_call_participant", "C")
    assert c.join_response.session_id != session_id  # a new session
    assert len(await world.wait_event("session_started", 2)) == 2


async def test_rejoining_within_keep_alive_reuses_the_session(world):
    mid = await world.meeting(keep_alive=30)
    a = await world.join(mid, "group_call_participant", "A")
    await a.ok(leave=sig.LeaveRequest())
    b = await world.join(mid, "group_call_participant", "B")
    assert b.join_response.session_id == a.join_response.session_id


async def test_inactive_meeting_refuses_joins(world):
    mid = await world.meeting()
    participant, _ = await world.participant(mid, "group_call_participant", "X")
    await world.meetings.UpdateMeeting(meeting_service_pb2.UpdateMeetingRequest(
        app_id=world.app_id, meeting_id=mid, meeting=meeting_pb2.Meeting(status=meeting_pb2.MEETING_STATUS_INACTIVE),
        update_mask=field_mask_pb2.FieldMask(paths=["status"])), metadata=world.md)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await world.join(mid, "group_call_participant", participant=participant)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION and "inactive" in err.value.details()


async def test_signaling_rpcs_are_internal_only(world, ostack):
    md = (("authorization", f"Bearer {ostack.api_token}"),)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await world.sessions.JoinSession(pb.JoinSessionRequest(app_id=world.app_id), metadata=md)
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_resume_within_window_keeps_peer_id_and_state(world):
    mid = await world.meeting()
    host = await world.join(mid, "group_call_host", "Host")
    guest = await world.join(mid, "group_call_participant", "Guest")
    await guest.ok(media_update=sig.MediaStateUpdate(audio_enabled=True))
    guest.stop_heartbeat()
    await world.sessions.DisconnectPeer(pb.DisconnectPeerRequest(peer_id=guest.peer_id), metadata=world.md)

    with pytest.raises(grpc.aio.AioRpcError) as err:  # wrong resume token
        await world.sessions.JoinSession(pb.JoinSessionRequest(
            app_id=world.app_id, meeting_id=mid, participant_id=guest.user_id, preset_id=guest.participant.preset_id,
            peer_id=guest.peer_id, resume_token="nope"), metadata=world.md)
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED

    resumed = (await world.sessions.JoinSession(pb.JoinSessionRequest(
        app_id=world.app_id, meeting_id=mid, participant_id=guest.user_id, preset_id=guest.participant.preset_id,
        peer_id=guest.peer_id, resume_token=guest.join_response.resume_token), metadata=world.md)).join
    assert resumed.peer_id == guest.peer_id and resumed.reconnected
    assert resumed.room_state == S.ROOM_STATE_JOINED and resumed.self.audio_enabled
    assert resumed.resume_token and resumed.resume_token != guest.join_response.resume_token
    guest.start_heartbeat()
    await host.quiet("participant_left", 0.3)  # others never saw it leave
    assert (await guest.ok(chat_send=sig.ChatSend(message="back"))).chat_message.peer_id == guest.peer_id


async def test_missed_heartbeats_disconnect_then_the_resume_window_removes_the_peer(world):
    mid = await world.meeting()
    host = await world.join(mid, "group_call_host", "Host")
    guest = await world.join(mid, "group_call_participant", "Guest")
    guest.stop_heartbeat()
    left = await host.expect("participant_left", within=HEARTBEAT * MISSES + RESUME_WINDOW + 4)
    assert left.peer_id == guest.peer_id and left.state == S.ROOM_STATE_DISCONNECTED
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await world.sessions.JoinSession(pb.JoinSessionRequest(
            app_id=world.app_id, meeting_id=mid, participant_id=guest.user_id, preset_id=guest.participant.preset_id,
            peer_id=guest.peer_id, resume_token=guest.join_response.resume_token), metadata=world.md)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError):
        await world.sessions.PeerHeartbeat(pb.PeerHeartbeatRequest(peer_id=guest.peer_id), metadata=world.md)
    peer = (await world.sessions.GetSessionParticipant(pb.GetSessionParticipantRequest(
        app_id=world.app_id, session_id=host.join_response.session_id, peer_id=guest.peer_id,
        include_peer_events=True), metadata=world.md)).peer
    assert peer.state == peer_pb2.PEER_STATE_LEFT and peer.leave_state == S.ROOM_STATE_DISCONNECTED
    assert [e.event_name for e in peer.peer_events] == [
        peer_pb2.PEER_EVENT_NAME_PEER_CREATED, peer_pb2.PEER_EVENT_NAME_PEER_JOINING,
        peer_pb2.PEER_EVENT_NAME_PEER_LEAVING]


async def test_several_peers_per_participant(world):
    mid = await world.meeting()
    participant, _ = await world.participant(mid, "group_call_participant", "Twin")
    tab1 = await world.join(mid, "group_call_participant", participant=participant)
    tab2 = await world.join(mid, "group_call_participant", participant=participant)
    assert tab1.peer_id != tab2.peer_id
    joined = await tab1.expect("participant_joined")
    assert joined.participant.user_id == participant.id and joined.participant.id == tab2.peer_id
    assert (await world.active(mid)).live_participants == 2
