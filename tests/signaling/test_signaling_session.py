"""Joining, presence, leaving, two peers of one participant."""

from __future__ import annotations

from signaling_helpers import joined, until


async def test_join_presence_and_leave(api, connect):
    meeting_id = await api.meeting()
    host = await joined(connect, await api.token(meeting_id, "group_call_host", "Host"))
    assert host.self.room_state == "joined"
    assert host.self.preset_name == "group_call_host"
    assert host.self.name == "Host"
    assert host.meta.meeting_id == meeting_id and host.meta.session_id

    guest = await connect(await api.token(meeting_id, "group_call_participant", "Guest"))
    seen = host.participants.wait_for("participantJoined", lambda p: p.name == "Guest")
    await guest.join()
    arrived = await seen
    assert guest.self.room_state == "joined"
    assert arrived.id == guest.self.id and arrived.preset_name == "group_call_participant"
    assert host.self.id in guest.participants.joined
    assert guest.meta.session_id == host.meta.session_id

    gone = host.participants.wait_for("participantLeft", lambda p: p.id == guest.self.id)
    left = guest.self.wait_for("roomLeft")
    await guest.leave()
    assert (await left)["state"] == "left"
    await gone
    assert guest.self.room_state == "left"
    assert guest.self.id not in host.participants.joined


async def test_two_peers_of_one_participant(api, connect):
    meeting_id = await api.meeting()
    host = await joined(connect, await api.token(meeting_id, "group_call_host", "Host"))
    token = await api.token(meeting_id, "group_call_participant", "Twin")
    first = await joined(connect, token)
    arrived = host.participants.wait_for("participantJoined", lambda p: p.name == "Twin" and p.id != first.self.id)
    second = await joined(connect, token)
    await arrived
    assert first.self.id != second.self.id
    assert first.self.user_id == second.self.user_id
    assert len(host.participants.joined.by_user_id(first.self.user_id)) == 2
    assert first.self.id in second.participants.joined and second.self.id in first.participants.joined

    # A chat message from one peer reaches the other peer of the same participant.
    got = second.chat.wait_for("chatUpdate", lambda u: u["message"].message == "from first")
    await first.chat.send_text_message("from first")
    assert (await got)["message"].peer_id == first.self.id

    # Kicking by participant (user) id removes both peers.
    kicked = [first.self.wait_for("roomLeft"), second.self.wait_for("roomLeft")]
    await host.participants.kick(first.self.user_id)
    assert [(await k)["state"] for k in kicked] == ["kicked", "kicked"]
    await until(lambda: not host.participants.joined, host.participants, "participantLeft")
