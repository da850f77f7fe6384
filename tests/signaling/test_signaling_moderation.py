"""Kick, kick-all (ends the session, revokes tokens), muting, pinning."""

from __future__ import annotations

import pytest
from realtimekit import AuthError, ClientError
from signaling_helpers import joined, until


async def test_kick_removes_the_peer_and_revokes_its_token(api, connect):
    meeting_id = await api.meeting()
    host = await joined(connect, await api.token(meeting_id, "group_call_host", "Host"))
    token = await api.token(meeting_id, "group_call_participant", "Mallory")
    mallory = await joined(connect, token)
    witness = await joined(connect, await api.token(meeting_id, "group_call_participant", "Witness"))

    removed = mallory.self.wait_for("roomLeft")
    gone = [c.participants.wait_for("participantLeft", lambda p: p.id == mallory.self.id) for c in (host, witness)]
    await host.participants.kick(mallory.self.id)
    assert (await removed)["state"] == "kicked"
    for waiter in gone:
        await waiter
    assert mallory.self.room_state == "kicked"
    assert mallory.self.id not in host.participants.joined

    with pytest.raises(AuthError) as refused:
        await connect(token)
    assert refused.value.reason == "TOKEN_REVOKED" and refused.value.code == "0004"


async def test_kick_all_ends_the_session(api, connect, stack):
    meeting_id = await api.meeting()
    host_token = await api.token(meeting_id, "group_call_host", "Host")
    host = await joined(connect, host_token)
    members = [await joined(connect, await api.token(meeting_id)) for _ in range(2)]
    session_id = host.meta.session_id

    ended = [m.self.wait_for("roomLeft") for m in (host, *members)]
    await host.participants.kick_all()
    assert [(await e)["state"] for e in ended] == ["ended", "ended", "ended"]

    response = await api.http.get(f"{stack.base}/sessions/{session_id}")
    assert response.status_code == 200, response.text
    assert response.json()["data"]["status"] == "ENDED"
    with pytest.raises(AuthError) as refused:
        await connect(host_token)
    assert refused.value.reason == "TOKEN_REVOKED"


async def test_kick_all_over_rest_reaches_every_client(api, connect, stack):
    meeting_id = await api.meeting()
    peers = [await joined(connect, await api.token(meeting_id)) for _ in range(2)]
    ended = [p.self.wait_for("roomLeft") for p in peers]
    response = await api.http.post(f"{stack.base}/meetings/{meeting_id}/active-session/kick-all")
    assert response.status_code == 200, response.text
    assert [(await e)["state"] for e in ended] == ["ended", "ended"]


async def test_participants_cannot_moderate(api, connect):
    meeting_id = await api.meeting()
    host = await joined(connect, await api.token(meeting_id, "group_call_host"))
    member = await joined(connect, await api.token(meeting_id, "group_call_participant"))
    attempts = [
        member.participants.kick(host.self.id),
        member.participants.kick_all(),
        member.participants.disable_all_audio(),
        member.participants.disable_video(host.self.id),
        member.participants.joined[host.self.id].pin(),
    ]
    for attempt in attempts:
        with pytest.raises(ClientError) as refused:
            await attempt
        assert refused.value.reason == "PERMISSION_DENIED_BY_PRESET", refused.value
        assert refused.value.code in ("0101", "1201"), refused.value  # 1201: kick without permission
    assert host.self.room_state == "joined" and member.self.id in host.participants.joined


async def test_mute_and_pin(api, connect):
    meeting_id = await api.meeting()
    host = await joined(connect, await api.token(meeting_id, "group_call_host"))
    member = await joined(connect, await api.token(meeting_id, "group_call_participant"))

    # The host learns of the member by a push that may arrive after the member's join reply.
    await until(lambda: member.self.id in host.participants.joined, host.participants, "participantJoined")
    remote = host.participants.joined[member.self.id]
    unmuted = remote.wait_for("audioUpdate", lambda u: u["audio_enabled"])
    await member.self._publish_media_state(audio=True)
    await unmuted

    moderated = member.self.wait_for("mediaModeration")
    muted = remote.wait_for("audioUpdate", lambda u: not u["audio_enabled"])
    await host.participants.disable_all_audio(allow_unmute=True)
    assert (await moderated) == {"kind": "audio", "allow_unmute": True, "actor_peer_id": host.self.id}
    await muted
    assert member.self.audio_enabled is False

    pinned = member.participants.wait_for("pinned")
    await host.self.pin()
    assert (await pinned).id == host.self.id
    assert host.self.id in member.participants.pinned
