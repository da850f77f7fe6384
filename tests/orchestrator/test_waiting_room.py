"""Waiting room, per the joining peer's preset waiting_room_type (docs/waiting-room.md)."""

from __future__ import annotations

from realtime.meeting.v1 import preset_pb2 as P
from realtime.session.v1 import session_pb2 as S
from realtime.signaling.v1 import signal_pb2 as sig


def waiting(mode: int):
    def change(perms: P.PresetPermissions) -> None:
        perms.waiting_room_type = mode
    return change


async def test_skip_joins_directly(world):
    mid = await world.meeting()
    guest = await world.join(mid, "group_call_participant")
    assert guest.join_response.room_state == S.ROOM_STATE_JOINED
    assert not guest.join_response.waitlisted


async def test_on_privileged_user_entry_admits_everyone_waiting_when_a_host_arrives(world):
    mid = await world.meeting()
    guests_preset = await world.preset(change=waiting(P.WAITING_ROOM_TYPE_ON_PRIVILEGED_USER_ENTRY))
    g1 = await world.join(mid, guests_preset, "G1")
    g2 = await world.join(mid, guests_preset, "G2")
    for g in (g1, g2):
        assert g.join_response.room_state == S.ROOM_STATE_WAITLISTED
        assert g.join_response.waitlisted
        # a waiting peer sees nothing of the session
        assert not g.join_response.participants and not g.join_response.chat
    await g1.quiet("participant_joined", 0.3)  # g2's arrival is not shown to g1
    chat = await g1.send(chat_send=sig.ChatSend(message="hello?"))
    assert chat.error.reason == "NOT_ADMITTED"

    host = await world.join(mid, "group_call_host", "Host")
    assert host.join_response.room_state == S.ROOM_STATE_JOINED
    for g in (g1, g2):
        pushed = await g.expect("join_response")
        assert pushed.room_state == S.ROOM_STATE_JOINED and pushed.peer_id == g.peer_id
    assert {p.id for p in (await g2.ok(sync=sig.SyncRequest())).join_response.participants} == \
        {host.peer_id, g1.peer_id}
    decided = await world.wait_event("waiting_room_peer_decided", 2)
    assert all(e.waiting_room_peer_decided.accepted and not e.waiting_room_peer_decided.actor_peer_id
               for e in decided)

    # once a privileged peer is present, later arrivals of this mode are admitted at once
    g3 = await world.join(mid, guests_preset, "G3")
    assert g3.join_response.room_state == S.ROOM_STATE_JOINED


async def test_skip_on_accept_needs_an_explicit_decision(world):
    mid = await world.meeting()
    host = await world.join(mid, "group_call_host", "Host")
    other = await world.join(mid, "group_call_participant", "Other")
    guests_preset = await world.preset(change=waiting(P.WAITING_ROOM_TYPE_SKIP_ON_ACCEPT))
    g1 = await world.join(mid, guests_preset, "G1")
    assert g1.join_response.room_state == S.ROOM_STATE_WAITLISTED  # a host is present, still waits
    requests = await host.expect("waiting_room_requests", lambda r: len(r.requests) == 1)
    assert requests.requests[0].peer_id == g1.peer_id and requests.requests[0].display_name == "G1"
    await other.quiet("waiting_room_requests", 0.2)  # only peers with accept_waiting_requests

    refused = await other.send(waiting_room_decision=sig.WaitingRoomDecision(
        action=sig.WAITING_ROOM_ACTION_ACCEPT, peer_ids=[g1.peer_id]))
    assert refused.error.reason == "PERMISSION_DENIED_BY_PRESET" and refused.error.code == "0101"

    listed = await host.ok(waiting_room_list=sig.WaitingRoomList())
    assert [r.peer_id for r in listed.waiting_room_requests.requests] == [g1.peer_id]

    await host.ok(waiting_room_decision=sig.WaitingRoomDecision(
        action=sig.WAITING_ROOM_ACTION_ACCEPT, peer_ids=[g1.user_id]))  # by user id
    admitted = await g1.expect("join_response")
    assert admitted.room_state == S.ROOM_STATE_JOINED
    assert {p.id for p in admitted.participants} == {host.peer_id, other.peer_id}
    await other.expect("participant_joined", lambda p: p.participant.id == g1.peer_id)

    g2 = await world.join(mid, guests_preset, "G2")
    g3 = await world.join(mid, guests_preset, "G3")
    await host.ok(waiting_room_decision=sig.WaitingRoomDecision(action=sig.WAITING_ROOM_ACTION_REJECT,
                                                                peer_ids=[g2.peer_id]))
    state = await g2.expect("room_state")
    assert state.state == S.ROOM_STATE_REJECTED and state.actor_peer_id == host.peer_id
    await host.ok(waiting_room_decision=sig.WaitingRoomDecision(action=sig.WAITING_ROOM_ACTION_ACCEPT, all=True))
    assert (await g3.expect("join_response")).room_state == S.ROOM_STATE_JOINED
    await host.expect("waiting_room_requests", lambda r: len(r.requests) == 0)
    rejected = [e for e in await world.wait_event("waiting_room_peer_decided", 3)
                if not e.waiting_room_peer_decided.accepted]
    assert [e.waiting_room_peer_decided.peer.id for e in rejected] == [g2.peer_id]


async def test_privileged_joiner_is_never_held(world):
    mid = await world.meeting()
    hosts = await world.preset("group_call_host", change=waiting(P.WAITING_ROOM_TYPE_SKIP_ON_ACCEPT))
    host = await world.join(mid, hosts, "Host")
    assert host.join_response.room_state == S.ROOM_STATE_JOINED
