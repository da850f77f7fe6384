"""A dropped socket resumes within the resume window (same peer, same state); after it, the
resume is refused and a fresh join makes a new peer."""

from __future__ import annotations

import pytest
from realtimekit import ClientError
from signaling_helpers import joined


async def test_reconnect_within_the_resume_window(api, connect):
    meeting_id = await api.meeting()
    host = await joined(connect, await api.token(meeting_id, "webinar_presenter", "Host"))
    viewer = await joined(connect, await api.token(meeting_id, "webinar_viewer", "Viewer"))
    await viewer.stage.request_access()
    peer_id = viewer.self.id
    left_events: list[object] = []
    host.participants.on("participantLeft", left_events.append)

    dropped = viewer.self.wait_for("roomLeft")
    back = viewer.self.wait_for("roomJoined")
    states = []
    viewer.meta.on("socketConnectionUpdate", lambda s: states.append(s["state"]))
    viewer._socket.abort()  # the network fails under the socket
    assert (await dropped)["state"] == "disconnected"
    assert (await back) == {"reconnected": True}
    assert viewer.self.room_state == "joined" and viewer.self.id == peer_id
    assert viewer.stage.status == "REQUESTED_TO_JOIN_STAGE"  # state kept
    assert states[-1] == "connected" and "reconnecting" in states
    assert viewer.meta.socket_state["reconnected"] is True

    # Still fully usable, and the others never saw it leave.
    got = host.chat.wait_for("chatUpdate", lambda u: u["message"].message == "back")
    await viewer.chat.send_text_message("back")
    assert (await got)["message"].peer_id == peer_id
    assert not left_events and peer_id in host.participants.joined


async def test_resume_after_the_window_is_refused(api, connect):
    meeting_id = await api.meeting()
    host = await joined(connect, await api.token(meeting_id, "group_call_host", "Host"))
    guest = await joined(connect, await api.token(meeting_id, "group_call_participant", "Guest"),
                         auto_reconnect=False)
    old_peer = guest.self.id

    dropped = guest.self.wait_for("roomLeft")
    gone = host.participants.wait_for("participantLeft", lambda p: p.id == old_peer, timeout=20)
    guest._socket.abort()
    assert (await dropped)["state"] == "disconnected"
    await gone  # the resume window passed: the orchestrator let the peer go

    with pytest.raises(ClientError) as refused:
        await guest.reconnect()
    assert refused.value.reason in ("PEER_NOT_FOUND", "TOKEN_INVALID")
    assert guest.self.room_state == "disconnected"

    # A fresh join works and makes a new peer.
    arrived = host.participants.wait_for("participantJoined", lambda p: p.name == "Guest")
    await guest.join()
    assert guest.self.room_state == "joined" and guest.self.id != old_peer
    await arrived


async def test_resume_needs_the_right_resume_token(api, connect):
    meeting_id = await api.meeting()
    token = await api.token(meeting_id)
    victim = await joined(connect, await api.token(meeting_id))
    attacker = await connect(token)
    attacker._resume_token = "forged"
    attacker.self.id = victim.self.id
    with pytest.raises(ClientError) as refused:
        await attacker.reconnect()
    assert refused.value.reason == "TOKEN_INVALID"
    assert victim.self.room_state == "joined"
