"""Chat (one order for everybody, private messages stay private) and polls."""

from __future__ import annotations

import asyncio

import pytest
from realtimekit import ClientError
from signaling_helpers import joined


async def test_chat_order_and_privacy(api, connect):
    meeting_id = await api.meeting()
    alice = await joined(connect, await api.token(meeting_id, "group_call_host", "Alice"))
    bob = await joined(connect, await api.token(meeting_id, "group_call_participant", "Bob"))
    carol = await joined(connect, await api.token(meeting_id, "group_call_participant", "Carol"))

    # Interleaved senders: every peer ends with the same order (the server's sequence).
    sends = [alice.chat.send_text_message(f"a{i}") for i in range(5)] + \
            [bob.chat.send_text_message(f"b{i}") for i in range(5)]
    done = [c.chat.wait_for("chatUpdate", lambda u: len(u["messages"]) >= 10) for c in (alice, bob, carol)]
    await asyncio.gather(*sends)
    await asyncio.gather(*done)
    orders = [[m.message for m in c.chat.messages] for c in (alice, bob, carol)]
    assert orders[0] == orders[1] == orders[2]
    assert [m for m in orders[0] if m.startswith("a")] == [f"a{i}" for i in range(5)]
    sequences = [m.sequence for m in alice.chat.messages]
    assert sequences == sorted(sequences) and len(set(sequences)) == 10

    # A private message reaches its target and the sender only.
    private = bob.chat.wait_for("chatUpdate", lambda u: u["message"].message == "psst")
    sent = await alice.chat.send_text_message("psst", [bob.self.id])
    got = (await private)["message"]
    assert got.id == sent.id and got.target_user_ids == [bob.self.user_id] and got.is_private
    marker = carol.chat.wait_for("chatUpdate", lambda u: u["message"].message == "after")
    await alice.chat.send_text_message("after")
    await marker
    assert "psst" not in [m.message for m in carol.chat.messages]
    assert "psst" in [m.message for m in alice.chat.messages]

    # History on join holds what the newcomer may see.
    dave = await joined(connect, await api.token(meeting_id, "group_call_participant", "Dave"))
    history = [m.message for m in dave.chat.messages]
    assert "psst" not in history and history[-1] == "after" and len(history) == 11
    fetched = await dave.chat.fetch_public_messages(limit=3)
    assert [m.message for m in fetched] == history[-3:]


async def test_polls_create_vote_and_permissions(api, connect):
    meeting_id = await api.meeting()
    host = await joined(connect, await api.token(meeting_id, "group_call_host", "Host"))
    member = await joined(connect, await api.token(meeting_id, "group_call_participant", "Member"))

    announced = member.polls.wait_for("pollsUpdate", lambda u: u["new_poll"])
    poll = await host.polls.create("Lunch?", ["pizza", "salad"])
    assert (await announced)["polls"][0].id == poll.id
    assert [o.text for o in member.polls.items[0].options] == ["pizza", "salad"]

    counted = host.polls.wait_for("pollsUpdate", lambda u: u["polls"][0].options[1].count == 1)
    await member.polls.vote(poll.id, 1)
    updated = (await counted)["polls"][0]
    assert updated.voted == [member.self.user_id]
    assert updated.options[1].votes == [{"id": member.self.user_id, "name": "Member"}]

    with pytest.raises(ClientError) as refused:
        await member.polls.create("Mine?", ["yes", "no"])
    assert refused.value.code == "0101"
    with pytest.raises(ClientError) as invalid:
        await member.polls.vote(poll.id, 7)
    assert invalid.value.reason == "INVALID_FIELD"


async def test_broadcast_message(api, connect):
    meeting_id = await api.meeting()
    alice = await joined(connect, await api.token(meeting_id, "group_call_host"))
    bob = await joined(connect, await api.token(meeting_id, "group_call_participant"))
    got = [c.participants.wait_for("broadcastedMessage") for c in (alice, bob)]
    await bob.participants.broadcast_message("reaction", {"emoji": "👍"})
    for waiter in got:
        message = await waiter
        assert message["type"] == "reaction" and message["payload"] == {"emoji": "👍"}
        assert message["from_peer_id"] == bob.self.id
