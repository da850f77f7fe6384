"""Chat (ordering, privacy, preset checks), polls, broadcasts and hidden peers."""

from __future__ import annotations

import asyncio

from google.protobuf import struct_pb2
from realtime.meeting.v1 import preset_pb2 as P
from realtime.session.v1 import session_service_pb2 as pb
from realtime.signaling.v1 import signal_pb2 as sig


async def test_public_chat_is_ordered_and_fetched_in_pages(world):
    mid = await world.meeting()
    a = await world.join(mid, "group_call_participant", "A")
    b = await world.join(mid, "group_call_participant", "B")
    sent = []
    for i in range(6):
        sender = a if i % 2 == 0 else b
        reply = await sender.ok(chat_send=sig.ChatSend(message=f"m{i}"))
        sent.append(reply.chat_message)
    assert [m.sequence for m in sent] == [1, 2, 3, 4, 5, 6]
    pushed = await b.expect("chat_message", lambda m: m.message == "m0")
    assert pushed.user_id == a.user_id and pushed.display_name == "A" and not pushed.target_user_ids

    latest = (await a.ok(chat_fetch=sig.ChatFetch(limit=4))).chat_messages
    assert [m.message for m in latest.messages] == ["m2", "m3", "m4", "m5"] and latest.has_more
    older = (await a.ok(chat_fetch=sig.ChatFetch(limit=4, timestamp_ms=latest.messages[0].time_ms))).chat_messages
    assert [m.message for m in older.messages][-2:] == ["m0", "m1"]
    newer = (await a.ok(chat_fetch=sig.ChatFetch(direction=sig.CHAT_FETCH_DIRECTION_NEWER, limit=3))).chat_messages
    assert [m.message for m in newer.messages] == ["m0", "m1", "m2"] and newer.has_more
    rest = (await a.ok(chat_fetch=sig.ChatFetch(direction=sig.CHAT_FETCH_DIRECTION_NEWER,
                                                timestamp_ms=newer.messages[-1].time_ms))).chat_messages
    assert "m2" not in [m.message for m in rest.messages] and rest.messages[-1].message == "m5"

    late = await world.join(mid, "group_call_participant", "Late")
    assert [m.message for m in late.join_response.chat] == [f"m{i}" for i in range(6)]
    assert len(await world.wait_event("chat_message_sent", 6)) == 6


async def test_private_messages_reach_only_their_targets(world):
    mid = await world.meeting()
    a = await world.join(mid, "group_call_participant", "A")
    b = await world.join(mid, "group_call_participant", "B")
    c = await world.join(mid, "group_call_participant", "C")
    reply = await a.ok(chat_send=sig.ChatSend(message="psst", target_ids=[b.peer_id]))
    assert list(reply.chat_message.target_user_ids) == [b.user_id]
    assert (await b.expect("chat_message")).message == "psst"
    await c.quiet("chat_message", 0.3)
    for peer, visible in ((a, ["psst"]), (b, ["psst"]), (c, [])):
        fetched = (await peer.ok(chat_fetch=sig.ChatFetch())).chat_messages.messages
        assert [m.message for m in fetched] == visible
    await a.ok(chat_send=sig.ChatSend(message="all"))
    only_private = (await b.ok(chat_fetch=sig.ChatFetch(private_only=True))).chat_messages.messages
    assert [m.message for m in only_private] == ["psst"]


async def test_chat_preset_checks(world):
    mid = await world.meeting()

    def no_public(perms: P.PresetPermissions) -> None:
        perms.chat.public.can_send = False

    def no_private_receive(perms: P.PresetPermissions) -> None:
        perms.chat.private.can_receive = False

    muted = await world.join(mid, await world.preset(change=no_public), "Quiet")
    deaf = await world.join(mid, await world.preset(change=no_private_receive), "NoDMs")
    refused = await muted.send(chat_send=sig.ChatSend(message="hi"))
    assert refused.error.reason == "PERMISSION_DENIED_BY_PRESET"
    assert refused.error.metadata["permission"] == "chat.public.can_send"
    refused_dm = await muted.send(chat_send=sig.ChatSend(message="dm", target_ids=[deaf.user_id]))
    assert refused_dm.error.metadata["permission"] == "chat.private.can_receive"
    empty = await deaf.send(chat_send=sig.ChatSend(message="   "))
    assert empty.error.reason == "INVALID_FIELD"


async def test_polls_create_vote_and_visibility(world):
    mid = await world.meeting()
    host = await world.join(mid, "group_call_host", "Host")
    guest = await world.join(mid, "group_call_participant", "Guest")
    other = await world.join(mid, "group_call_participant", "Other")
    refused = await guest.send(poll_create=sig.PollCreate(question="Q?", options=["a", "b"]))
    assert refused.error.reason == "PERMISSION_DENIED_BY_PRESET"

    created = (await host.ok(poll_create=sig.PollCreate(question="Lunch?", options=["pizza", "salad"],
                                                        hide_votes=True))).poll_updated
    assert created.new_poll and created.poll.created_by == "Host"
    poll_id = created.poll.id
    assert (await guest.expect("poll_updated")).new_poll

    voted = (await guest.ok(poll_vote=sig.PollVote(poll_id=poll_id, option_index=1))).poll_updated.poll
    assert [o.count for o in voted.options] == [0, 1] and list(voted.voted) == [guest.user_id]
    assert [v.name for v in voted.options[1].votes] == ["Guest"]
    hidden = await other.expect("poll_updated", lambda u: not u.new_poll)
    assert [o.count for o in hidden.poll.options] == [0, 0]  # hide_votes: not voted yet
    again = await guest.send(poll_vote=sig.PollVote(poll_id=poll_id, option_index=0))
    assert again.error.reason == "INVALID_FIELD"
    out_of_range = await other.send(poll_vote=sig.PollVote(poll_id=poll_id, option_index=5))
    assert out_of_range.error.reason == "INVALID_FIELD"
    missing = await other.send(poll_vote=sig.PollVote(poll_id="00000000-0000-0000-0000-000000000000"))
    assert missing.error.reason == "POLL_NOT_FOUND"

    anonymous = await world.sessions.CreatePoll(pb.CreatePollRequest(
        app_id=world.app_id, meeting_id=mid, question="Rate it", options=["1", "2", "3"], anonymous=True),
        metadata=world.md)
    assert anonymous.poll.created_by == ""
    await other.ok(poll_vote=sig.PollVote(poll_id=anonymous.poll.id, option_index=2))
    seen = await host.expect("poll_updated", lambda u: u.poll.id == anonymous.poll.id and not u.new_poll)
    assert seen.poll.options[2].count == 1 and not seen.poll.options[2].votes  # voters not named
    polls = (await other.ok(sync=sig.SyncRequest())).join_response.polls
    assert [p.question for p in polls] == ["Lunch?", "Rate it"]
    await world.wait_event("poll_voted", 2)


async def test_broadcast_targets_and_rate_limit(world):
    mid = await world.meeting()
    host = await world.join(mid, "group_call_host", "Host")
    guest = await world.join(mid, "group_call_participant", "Guest")
    payload = struct_pb2.Struct()
    payload.update({"emoji": "👍"})
    await guest.ok(broadcast=sig.BroadcastSend(type="reaction", payload=payload))
    for peer in (host, guest):  # no target: everybody including the sender
        got = await peer.expect("broadcast")
        assert got.type == "reaction" and got.payload["emoji"] == "👍" and got.from_peer_id == guest.peer_id
    await guest.ok(broadcast=sig.BroadcastSend(type="hosts-only", target=sig.BroadcastTarget(
        preset_names=["group_call_host"])))
    assert (await host.expect("broadcast")).type == "hosts-only"
    await guest.quiet("broadcast", 0.3)

    await asyncio.sleep(1.0)  # refill the bucket
    replies = [await host.send(broadcast=sig.BroadcastSend(type="spam")) for _ in range(7)]
    kinds = [r.WhichOneof("message") for r in replies]
    assert kinds.count("ack") == 5
    limited = [r.error for r in replies if r.WhichOneof("message") == "error"]
    assert limited and limited[0].reason == "RATE_LIMITED" and limited[0].code == "0013"


async def test_hidden_recorder_is_never_listed(world):
    mid = await world.meeting()
    host = await world.join(mid, "group_call_host", "Host")
    recorder = await world.join(mid, "recorder_preset_v2", "Recorder")
    assert recorder.join_response.self.flags.recorder and recorder.join_response.self.flags.hidden_participant
    await host.quiet("participant_joined", 0.3)
    late = await world.join(mid, "group_call_participant", "Late")
    assert [p.id for p in late.join_response.participants] == [host.peer_id]
    assert {p.id for p in recorder.join_response.participants} == {host.peer_id}
