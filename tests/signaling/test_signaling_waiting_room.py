"""Waiting room in its three modes (permissions.waiting_room_type of the joining participant)."""

from __future__ import annotations

import pytest
from realtimekit import ClientError
from signaling_helpers import joined, until


async def test_skip_joins_directly(api, connect):
    meeting_id = await api.meeting()
    preset = await api.waiting_room_preset("SKIP")
    guest = await joined(connect, await api.token(meeting_id, preset))
    assert guest.self.room_state == "joined"


async def test_skip_on_accept_waits_for_a_host_decision(api, connect):
    meeting_id = await api.meeting()
    preset = await api.waiting_room_preset("SKIP_ON_ACCEPT")
    host = await joined(connect, await api.token(meeting_id, "group_call_host", "Host"))

    asked = host.participants.wait_for("waitlistedParticipantJoined", lambda p: p.name == "Alice")
    alice = await connect(await api.token(meeting_id, preset, "Alice"))
    waitlisted = alice.self.wait_for("waitlisted")
    await alice.join()
    await waitlisted
    assert alice.self.room_state == "waitlisted" and alice.self.waitlist_status == "waiting"
    request = await asked
    assert request.id == alice.self.id and request.id in host.participants.waitlisted
    # A waiting peer sees nothing of the session and may do nothing in it.
    assert not alice.participants.joined
    with pytest.raises(ClientError) as refused:
        await alice.chat.send_text_message("let me in")
    assert refused.value.reason == "NOT_ADMITTED"

    admitted = alice.self.wait_for("roomJoined")
    arrived = host.participants.wait_for("participantJoined", lambda p: p.id == alice.self.id)
    await host.participants.accept_waiting_room_request(alice.self.id)
    assert (await admitted) == {"reconnected": False}
    await arrived
    assert alice.self.room_state == "joined" and alice.self.waitlist_status == "accepted"
    assert host.self.id in alice.participants.joined
    assert alice.self.id not in host.participants.waitlisted

    # Reject: the peer ends with room state `rejected` and the connection is closed.
    bob = await connect(await api.token(meeting_id, preset, "Bob"))
    asked = host.participants.wait_for("waitlistedParticipantJoined", lambda p: p.name == "Bob")
    await bob.join()
    await asked
    rejected = bob.self.wait_for("roomLeft")
    await host.participants.reject_waiting_room_request(bob.self.id)
    assert (await rejected)["state"] == "rejected"
    assert bob.self.room_state == "rejected"

    # Accept all.
    carol = await connect(await api.token(meeting_id, preset, "Carol"))
    dave = await connect(await api.token(meeting_id, preset, "Dave"))
    both = host.participants.wait_for("waitingRoomRequestsUpdate", lambda items: len(items) == 2)
    await carol.join()
    await dave.join()
    await both
    admitted = [carol.self.wait_for("roomJoined"), dave.self.wait_for("roomJoined")]
    await host.participants.accept_all_waiting_room_request()
    for waiter in admitted:
        await waiter
    await until(lambda: not host.participants.waitlisted, host.participants, "waitingRoomRequestsUpdate")


async def test_on_privileged_user_entry_admits_when_a_host_arrives(api, connect):
    meeting_id = await api.meeting()
    preset = await api.waiting_room_preset("ON_PRIVILEGED_USER_ENTRY")
    early = await connect(await api.token(meeting_id, preset, "Early"))
    await early.join()
    assert early.self.room_state == "waitlisted"

    admitted = early.self.wait_for("roomJoined")
    host = await joined(connect, await api.token(meeting_id, "group_call_host", "Host"))
    await admitted
    assert early.self.room_state == "joined"
    assert host.self.id in early.participants.joined

    # With a privileged user present, later arrivals go straight in.
    late = await joined(connect, await api.token(meeting_id, preset, "Late"))
    assert late.self.room_state == "joined"


async def test_participant_preset_cannot_decide_waiting_room(api, connect):
    meeting_id = await api.meeting()
    preset = await api.waiting_room_preset("SKIP_ON_ACCEPT")
    member = await joined(connect, await api.token(meeting_id, "group_call_participant"))
    waiting = await connect(await api.token(meeting_id, preset))
    await waiting.join()
    with pytest.raises(ClientError) as refused:
        await member.participants.accept_waiting_room_request(waiting.self.id)
    assert refused.value.code == "0101" and refused.value.reason == "PERMISSION_DENIED_BY_PRESET"
    assert waiting.self.room_state == "waitlisted"
