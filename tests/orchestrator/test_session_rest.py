"""RealtimeKit REST session endpoints through the gateway (reference §3.5, §3.6, §4.5, §4.6)."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx
from realtime.signaling.v1 import signal_pb2 as sig


def http(ostack) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=ostack.gateway_url, headers={"Authorization": f"Bearer {ostack.api_token}"},
                             timeout=15)


async def test_session_endpoints(world, ostack):
    mid = await world.meeting(title="REST meeting")
    base = ostack.base
    async with http(ostack) as client:
        none = await client.get(f"{base}/meetings/{mid}/active-session")
        assert none.status_code == 404 and none.json()["error"]["reason"] == "NO_ACTIVE_SESSION"

        host = await world.join(mid, "group_call_host", "Host")
        guest_p, _ = await world.participant(mid, "group_call_participant", "Guest", custom_id="crm-7")
        guest = await world.join(mid, "group_call_participant", participant=guest_p)
        await guest.ok(chat_send=sig.ChatSend(message="hello, world"))
        session_id = host.join_response.session_id

        active = (await client.get(f"{base}/meetings/{mid}/active-session")).json()
        assert active["success"] is True
        data = active["data"]
        assert data["id"] == session_id and data["associated_id"] == mid and data["status"] == "LIVE"
        assert data["live_participants"] == 2 and data["organization_id"] == ostack.app_id
        assert data["meeting_display_name"] == "REST meeting" and data["type"] == "meeting"
        assert data["ended_at"] is None and data["started_at"].endswith("Z")

        listed = (await client.get(f"{base}/sessions", params={"associated_id": mid})).json()
        assert [s["id"] for s in listed["data"]["sessions"]] == [session_id]
        assert listed["paging"]["total_count"] == 1
        live = (await client.get(f"{base}/sessions", params={"status": "LIVE", "per_page": 100})).json()
        assert session_id in [s["id"] for s in live["data"]["sessions"]]
        assert (await client.get(f"{base}/sessions", params={"participants": "bad"})).status_code == 400
        one = (await client.get(f"{base}/sessions/{session_id}")).json()["data"]
        assert one["id"] == session_id and one["max_concurrent_participants"] == 2

        peers = (await client.get(f"{base}/sessions/{session_id}/participants",
                                  params={"include_peer_events": "true"})).json()["data"]["participants"]
        assert [p["id"] for p in peers] == [host.peer_id, guest.peer_id]
        guest_row = peers[1]
        assert guest_row["user_id"] == guest.user_id and guest_row["custom_participant_id"] == "crm-7"
        assert guest_row["display_name"] == "Guest" and guest_row["preset_name"] == "group_call_participant"
        assert [e["event_name"] for e in guest_row["peer_events"]] == ["PEER_CREATED", "PEER_JOINING"]
        assert guest_row["peer_events"][0]["preset_view_type"] == "GROUP_CALL"
        searched = (await client.get(f"{base}/sessions/{session_id}/participants",
                                     params={"search": "crm-7"})).json()["data"]["participants"]
        assert [p["id"] for p in searched] == [guest.peer_id] and "peer_events" not in searched[0]

        single = (await client.get(f"{base}/sessions/{session_id}/participants/{guest.peer_id}")).json()
        assert single["data"]["participant"]["display_name"] == "Guest"
        report = (await client.get(f"{base}/sessions/peer-report/{guest.peer_id}")).json()["data"]["participant"]
        assert report["role"] == "group_call_participant" and report["session_id"] == session_id
        assert "metadata" in report["peer_report"]

        chat = (await client.get(f"{base}/sessions/{session_id}/chat")).json()["data"]
        url = urlsplit(chat["chat_download_url"])
        assert chat["chat_download_url_expiry"].endswith("Z")
        csv = await client.get(f"{url.path}?{url.query}", headers={"Authorization": ""})
        assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
        assert "hello, world" in csv.text and guest.user_id in csv.text
        forged = await client.get(f"{url.path}?{url.query[:-4]}beef")
        assert forged.status_code == 401

        poll = await client.post(f"{base}/meetings/{mid}/active-session/poll",
                                 json={"question": "Ship it?", "options": ["yes", "no"], "anonymous": False})
        assert poll.status_code == 201
        body = poll.json()["data"]
        assert body["poll"]["question"] == "Ship it?"
        assert body["poll"]["options"] == [{"text": "yes", "count": 0, "votes": []},
                                           {"text": "no", "count": 0, "votes": []}]
        assert (await guest.expect("poll_updated")).poll.question == "Ship it?"

        muted = (await client.post(f"{base}/meetings/{mid}/active-session/mute",
                                   json={"participant_ids": [guest.user_id]})).json()["data"]
        assert muted["action"] == "mute" and [p["id"] for p in muted["participants"]] == [guest.user_id]
        mute_all = (await client.post(f"{base}/meetings/{mid}/active-session/mute-all",
                                      json={"allow_unmute": True})).json()["data"]
        assert mute_all["muted_participants_count"] == 2
        assert (await client.post(f"{base}/meetings/{mid}/active-session/kick", json={})).status_code == 400

        kicked = (await client.post(f"{base}/meetings/{mid}/active-session/kick",
                                    json={"custom_participant_ids": ["crm-7"]})).json()["data"]
        assert kicked["action"] == "kick"
        assert [(p["id"], p["name"], p["custom_participant_id"]) for p in kicked["participants"]] == \
            [(guest.user_id, "Guest", "crm-7")]
        assert "created_at" in kicked["participants"][0]

        ended = (await client.post(f"{base}/meetings/{mid}/active-session/kick-all")).json()["data"]
        assert ended == {"action": "kick-all", "kicked_participants_count": 1}
        after = (await client.get(f"{base}/sessions/{session_id}")).json()["data"]
        assert after["status"] == "ENDED" and after["ended_at"] is not None and after["live_participants"] == 0
        assert (await client.get(f"{base}/meetings/{mid}/active-session")).status_code == 404

        missing = await client.get(f"{base}/sessions/00000000-0000-0000-0000-000000000000")
        assert missing.status_code == 404 and missing.json()["error"]["reason"] == "SESSION_NOT_FOUND"
        bad_peer = await client.get(f"{base}/sessions/peer-report/not-a-peer")
        assert bad_peer.status_code in (400, 404)


async def test_rest_needs_a_valid_token(world, ostack):
    async with httpx.AsyncClient(base_url=ostack.gateway_url, timeout=15) as client:
        anonymous = await client.get(f"{ostack.base}/sessions")
        assert anonymous.status_code == 401
        wrong = await client.get(f"{ostack.base}/sessions", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
