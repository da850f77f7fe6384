"""End to end through the real stack: REST → gateway → meeting service → Postgres / auth (RS256).

Covers every meeting, participant and preset operation on RealtimeKit's paths, bad input
(always the error envelope with a 4xx, never a 500) and tenant isolation.
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

import grpc
import jwt
import pytest
from realtime.auth.v1 import auth_service_pb2, auth_service_pb2_grpc
from rtkit.clients import internal_metadata

pytestmark = pytest.mark.slow


def ok(response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is True, body
    return body["data"]


def fails(response, status: int, reason: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False
    assert body["error"]["code"] == status
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    if reason:
        assert body["error"].get("reason") == reason, body
    return body["error"]


async def verify_token(stack, token: str, meeting_id: str | None = None):
    async with grpc.aio.insecure_channel(stack.grpc["auth"]) as channel:
        stub = auth_service_pb2_grpc.AuthServiceStub(channel)
        request = auth_service_pb2.VerifyParticipantTokenRequest(token=token)
        if meeting_id:
            request.meeting_id = meeting_id
        return await stub.VerifyParticipantToken(request, metadata=internal_metadata(stack.internal_token), timeout=10)


def claims(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


PRESET: dict[str, Any] = {
    "name": "custom_host",
    "config": {
        "view_type": "GROUP_CALL",
        "max_video_streams": {"mobile": 4, "desktop": 12},
        "max_screenshare_count": 2,
        "livestream_viewer_qualities": [720, 1080],
        "media": {
            "video": {"quality": "hd", "frame_rate": 30, "simulcast": True},
            "screenshare": {"quality": "fhd", "frame_rate": 10},
            "audio": {"enable_stereo": True, "enable_high_bitrate": False},
        },
    },
    "permissions": {
        "accept_waiting_requests": True,
        "can_accept_production_requests": True,
        "accept_stage_requests": True,
        "stage_enabled": True,
        "stage_access": "ALLOWED",
        "can_edit_display_name": True,
        "can_spotlight": True,
        "can_record": True,
        "can_livestream": False,
        "can_change_participant_permissions": True,
        "disable_participant_audio": True,
        "disable_participant_video": True,
        "disable_participant_screensharing": True,
        "kick_participant": True,
        "pin_participant": True,
        "hidden_participant": False,
        "show_participant_list": True,
        "is_recorder": False,
        "recorder_type": "NONE",
        "transcription_enabled": True,
        "waiting_room_type": "ON_PRIVILEGED_USER_ENTRY",
        "media": {"audio": {"can_produce": "ALLOWED"}, "video": {"can_produce": "CAN_REQUEST"},
                  "screenshare": {"can_produce": "NOT_ALLOWED"}},
        "chat": {"public": {"can_send": True, "text": True, "files": False},
                 "private": {"can_send": True, "can_receive": True, "text": True, "files": False}},
        "polls": {"can_create": True, "can_vote": True, "can_view": True},
        "plugins": {"can_start": True, "can_close": True, "can_edit_config": False,
                    "config": {"ae79b269-24ca-4f8a-8112-f96084c8c19a": {"access_control": "VIEW_ONLY",
                                                                         "handles_view_only": True}}},
        "connected_meetings": {"can_alter_connected_meetings": True, "can_switch_connected_meetings": True,
                               "can_switch_to_parent_meeting": True},
    },
    "ui": {
        "design_tokens": {
            "border_radius": "extra-rounded",
            "border_width": "thin",
            "spacing_base": 4,
            "theme": "darkest",
            "colors": {
                "brand": {"300": "#844d1c", "400": "#9d5b22", "500": "#b56927", "600": "#d37c30", "700": "#d9904f"},
                "background": {"600": "#222222", "700": "#1f1f1f", "800": "#1b1b1b", "900": "#181818",
                               "1000": "#141414"},
                "danger": "#FF2D2D", "text": "#EEEEEE", "text_on_brand": "#EEEEEE", "success": "#62A504",
                "video_bg": "#191919", "warning": "#FFCD07",
            },
            "logo": "https://example.com/logo.png",
            "font_family": "Inter",
            "google_font": "Inter",
        },
        "config_diff": {"controlBar": {"elements": {"chat": False}}},
    },
}


# meetings ---------------------------------------------------------------------------------


async def test_meeting_create_get_patch_put(stack):
    async with stack.client() as c:
        created = ok(await c.post(f"{stack.base}/meetings", json={
            "title": "All hands", "record_on_start": True, "persist_chat": True, "transcribe_on_end": True,
            "session_keep_alive_time_in_secs": 120, "preferred_region": "ap-south-1",  # unknown: ignored
            "recording_config": {"max_seconds": 3600, "file_name_prefix": "ah",
                                 "video_config": {"codec": "VP9", "watermark": {"url": "https://x/y.png"}},
                                 "storage_config": {"type": "aws", "access_key": "AK", "secret": "SK",
                                                    "bucket": "b", "region": "us-east-1"},
                                 "dyte_bucket_config": {"enabled": False}},
            "ai_config": {"transcription": {"keywords": ["RealtimeKit"], "language": "en-IN"},
                          "summarization": {"summary_type": "team_meeting", "text_format": "plain_text"}},
        }), 201)
        assert uuid.UUID(created["id"])
        assert created["status"] == "ACTIVE"
        assert created["title"] == "All hands"
        assert created["created_at"].endswith("Z") and created["updated_at"]
        assert "app_id" not in created and "create_time" not in created
        rc = created["recording_config"]
        assert rc["video_config"] == {"codec": "VP9", "width": 1280, "height": 720, "export_file": True,
                                      "watermark": {"url": "https://x/y.png", "position": "left top"}}
        assert rc["audio_config"] == {"codec": "AAC", "channel": "stereo", "export_file": True}
        assert rc["realtimekit_bucket_config"] == {"enabled": False}
        assert rc["storage_config"]["bucket"] == "b"
        assert not {"access_key", "secret", "password", "private_key"} & set(rc["storage_config"])
        assert created["ai_config"]["transcription"]["language"] == "en-IN"
        assert created["ai_config"]["summarization"] == {"word_limit": 500, "text_format": "plain_text",
                                                         "summary_type": "team_meeting"}
        mid = created["id"]

        got = ok(await c.get(f"{stack.base}/meetings/{mid}"))
        assert got == created

        patched = ok(await c.patch(f"{stack.base}/meetings/{mid}", json={
            "status": "INACTIVE", "recording_config": {"max_seconds": 600}}))
        assert patched["status"] == "INACTIVE"
        assert patched["recording_config"]["max_seconds"] == 600
        assert patched["recording_config"]["video_config"]["codec"] == "VP9"  # nested objects merge
        assert patched["title"] == "All hands"
        assert patched["updated_at"] > created["updated_at"]

        replaced = ok(await c.put(f"{stack.base}/meetings/{mid}", json={"title": "Replaced"}))
        assert replaced["title"] == "Replaced"
        assert replaced["status"] == "ACTIVE" and replaced["record_on_start"] is False
        assert "recording_config" not in replaced
        assert replaced["session_keep_alive_time_in_secs"] == 60
        assert replaced["created_at"] == created["created_at"]

        empty = ok(await c.post(f"{stack.base}/meetings"), 201)
        assert empty["title"] is None and empty["status"] == "ACTIVE"


async def test_meeting_list_search_status_and_paging(stack):
    tag = uuid.uuid4().hex[:8]
    async with stack.client() as c:
        ids = []
        for i in range(5):
            ids.append(ok(await c.post(f"{stack.base}/meetings", json={"title": f"{tag} room {i}"}), 201)["id"])
        ok(await c.patch(f"{stack.base}/meetings/{ids[0]}", json={"status": "INACTIVE"}))

        body = (await c.get(f"{stack.base}/meetings", params={"search": tag, "per_page": 2})).json()
        assert body["success"] and body["paging"] == {"total_count": 5, "start_offset": 1, "end_offset": 2}
        assert [m["title"] for m in body["data"]] == [f"{tag} room 4", f"{tag} room 3"]
        assert all("ai_config" not in m for m in body["data"])
        body = (await c.get(f"{stack.base}/meetings", params={"search": tag, "per_page": 2, "page_no": 3})).json()
        assert body["paging"] == {"total_count": 5, "start_offset": 5, "end_offset": 5}
        assert [m["id"] for m in body["data"]] == [ids[0]]
        body = (await c.get(f"{stack.base}/meetings", params={"search": tag, "page_no": 9})).json()
        assert body["data"] == [] and body["paging"]["total_count"] == 5

        data = ok(await c.get(f"{stack.base}/meetings", params={"search": tag, "status": "INACTIVE"}))
        assert [m["id"] for m in data] == [ids[0]]
        data = ok(await c.get(f"{stack.base}/meetings", params={"search": ids[2]}))
        assert [m["id"] for m in data] == [ids[2]]
        data = ok(await c.get(f"{stack.base}/meetings", params={"search": tag, "start_time": "2100-01-01T00:00:00Z"}))
        assert data == []
        data = ok(await c.get(f"{stack.base}/meetings", params={"search": tag, "end_time": "2100-01-01T00:00:00Z"}))
        assert len(data) == 5
        # Defaults: page 1, 20 per page; per_page above 100 is clamped.
        body = (await c.get(f"{stack.base}/meetings", params={"per_page": 1000})).json()
        assert body["success"] and len(body["data"]) <= 100 and body["paging"]["start_offset"] == 1


@pytest.mark.parametrize("body,field", [
    ({"title": "x" * 1025}, "title"),
    ({"title": 42}, "title"),
    ({"record_on_start": "yes"}, "record_on_start"),
    ({"session_keep_alive_time_in_secs": 601}, "session_keep_alive_time_in_secs"),
    ({"session_keep_alive_time_in_secs": "60"}, "session_keep_alive_time_in_secs"),
    ({"recording_config": {"max_seconds": 30}}, "max_seconds"),
    ({"recording_config": {"video_config": {"codec": "H265"}}}, "codec"),
    ({"recording_config": {"storage_config": {"bucket": "b"}}}, "type"),
    ({"recording_config": {"storage_config": {"type": "aws"}}}, "bucket"),
    ({"ai_config": {"transcription": {"language": "xx"}}}, "language"),
    ({"ai_config": {"summarization": {"word_limit": 5000}}}, "word_limit"),
    ([1, 2], "body"),
])
async def test_meeting_bad_input(stack, body, field):
    async with stack.client() as c:
        error = fails(await c.post(f"{stack.base}/meetings", json=body), 400, "INVALID_FIELD")
        assert field in error["message"]


async def test_meeting_bad_input_more(stack):
    async with stack.client() as c:
        mid = ok(await c.post(f"{stack.base}/meetings", json={}), 201)["id"]
        fails(await c.patch(f"{stack.base}/meetings/{mid}", json={"status": "CLOSED"}), 400, "INVALID_FIELD")
        fails(await c.patch(f"{stack.base}/meetings/{mid}", json={"status": None}), 400, "INVALID_FIELD")
        fails(await c.post(f"{stack.base}/meetings", content=b"{not json",
                           headers={"content-type": "application/json"}), 400)
        fails(await c.get(f"{stack.base}/meetings", params={"per_page": -1}), 400)
        fails(await c.get(f"{stack.base}/meetings", params={"page_no": "x"}), 400)
        fails(await c.get(f"{stack.base}/meetings", params={"status": "LIVE"}), 400)
        fails(await c.get(f"{stack.base}/meetings", params={"start_time": "yesterday"}), 400)
        fails(await c.get(f"{stack.base}/meetings", params={"search": "s" * 300}), 400)
        for bad in ("not-a-uuid", str(uuid.uuid4()), "%20", "1" * 64):
            fails(await c.get(f"{stack.base}/meetings/{bad}"), 404, "MEETING_NOT_FOUND")
            fails(await c.patch(f"{stack.base}/meetings/{bad}", json={"title": "t"}), 404, "MEETING_NOT_FOUND")
            fails(await c.put(f"{stack.base}/meetings/{bad}", json={}), 404, "MEETING_NOT_FOUND")
        # An empty PATCH changes nothing and answers the meeting.
        assert ok(await c.patch(f"{stack.base}/meetings/{mid}", json={}))["id"] == mid


# participants -----------------------------------------------------------------------------


async def test_participants_full_lifecycle_with_tokens(stack):
    async with stack.client() as c:
        mid = ok(await c.post(f"{stack.base}/meetings", json={"title": "p"}), 201)["id"]
        added = ok(await c.post(f"{stack.base}/meetings/{mid}/participants", json={
            "custom_participant_id": "user-1", "preset_name": "group_call_host", "name": "Ada",
            "picture": "https://example.com/ada.png"}), 201)
        assert set(added) == {"id", "custom_participant_id", "preset_name", "name", "picture", "created_at",
                              "updated_at", "token"}
        assert added["preset_name"] == "group_call_host" and added["name"] == "Ada"
        pid, token1 = added["id"], added["token"]
        host = next(p for p in ok(await c.get(f"{stack.base}/presets", params={"per_page": 100}))
                    if p["name"] == "group_call_host")
        cl = claims(token1)
        assert (cl["orgId"], cl["meetingId"], cl["participantId"], cl["presetId"]) == (stack.app_id, mid, pid,
                                                                                        host["id"])
        assert jwt.get_unverified_header(token1)["alg"] == "RS256"
        assert (await verify_token(stack, token1, mid)).claims.participant_id == pid

        # Deprecated alias of custom_participant_id is accepted.
        alias = ok(await c.post(f"{stack.base}/meetings/{mid}/participants", json={
            "client_specific_id": "user-2", "preset_name": "webinar_viewer"}), 201)
        assert alias["custom_participant_id"] == "user-2" and alias["name"] is None

        got = ok(await c.get(f"{stack.base}/meetings/{mid}/participants/{pid}"))
        assert got == {k: v for k, v in added.items() if k != "token"}

        body = (await c.get(f"{stack.base}/meetings/{mid}/participants", params={"per_page": 1})).json()
        assert body["paging"] == {"total_count": 2, "start_offset": 1, "end_offset": 1}
        assert body["data"][0]["id"] == pid
        body = (await c.get(f"{stack.base}/meetings/{mid}/participants", params={"per_page": 1, "page_no": 2})).json()
        assert body["data"][0]["id"] == alias["id"]

        refreshed = ok(await c.post(f"{stack.base}/meetings/{mid}/participants/{pid}/token"))
        assert set(refreshed) == {"token"} and refreshed["token"] != token1
        assert claims(refreshed["token"])["presetId"] == host["id"]
        await verify_token(stack, refreshed["token"], mid)

        edited = ok(await c.patch(f"{stack.base}/meetings/{mid}/participants/{pid}", json={
            "name": "Ada L.", "preset_name": "group_call_participant"}))
        assert edited["name"] == "Ada L." and edited["preset_name"] == "group_call_participant"
        assert edited["picture"] == "https://example.com/ada.png"
        new_token = edited["token"]
        assert claims(new_token)["presetId"] != host["id"]
        await verify_token(stack, new_token, mid)
        for old in (token1, refreshed["token"]):  # earlier tokens are revoked by PATCH
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await verify_token(stack, old, mid)
            assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED

        deleted = ok(await c.delete(f"{stack.base}/meetings/{mid}/participants/{pid}"))
        assert set(deleted) == {"custom_participant_id", "preset_id", "created_at", "updated_at"}
        assert deleted["custom_participant_id"] == "user-1"
        with pytest.raises(grpc.aio.AioRpcError):
            await verify_token(stack, new_token, mid)
        fails(await c.get(f"{stack.base}/meetings/{mid}/participants/{pid}"), 404, "PARTICIPANT_NOT_FOUND")
        fails(await c.delete(f"{stack.base}/meetings/{mid}/participants/{pid}"), 404, "PARTICIPANT_NOT_FOUND")
        fails(await c.post(f"{stack.base}/meetings/{mid}/participants/{pid}/token"), 404, "PARTICIPANT_NOT_FOUND")


async def test_participant_bad_input(stack):
    async with stack.client() as c:
        mid = ok(await c.post(f"{stack.base}/meetings", json={}), 201)["id"]
        url = f"{stack.base}/meetings/{mid}/participants"
        good = {"custom_participant_id": "u", "preset_name": "group_call_host"}
        for body in ({"preset_name": "group_call_host"}, {"custom_participant_id": "u"},
                     {**good, "custom_participant_id": ""}, {**good, "name": "n" * 256},
                     {**good, "picture": "p" * 2049}, {**good, "name": 5}, {**good, "preset_name": ["x"]}):
            fails(await c.post(url, json=body), 400, "INVALID_FIELD")
        fails(await c.post(url, json={**good, "preset_name": "no_such_preset"}), 404, "PRESET_NOT_FOUND")
        for bad in ("nope", str(uuid.uuid4())):
            fails(await c.post(f"{stack.base}/meetings/{bad}/participants", json=good), 404, "MEETING_NOT_FOUND")
            fails(await c.get(f"{stack.base}/meetings/{bad}/participants"), 404, "MEETING_NOT_FOUND")
            fails(await c.get(f"{url}/{bad}"), 404, "PARTICIPANT_NOT_FOUND")
            fails(await c.patch(f"{url}/{bad}", json={"name": "x"}), 404, "PARTICIPANT_NOT_FOUND")
        pid = ok(await c.post(url, json=good), 201)["id"]
        fails(await c.patch(f"{url}/{pid}", json={"preset_name": "ghost"}), 404, "PRESET_NOT_FOUND")
        fails(await c.patch(f"{url}/{pid}", json={"preset_name": None}), 400, "INVALID_FIELD")
        # The participant is unchanged after the failed edits.
        assert ok(await c.get(f"{url}/{pid}"))["preset_name"] == "group_call_host"
        # A participant is addressed through its own meeting only.
        other = ok(await c.post(f"{stack.base}/meetings", json={}), 201)["id"]
        fails(await c.get(f"{stack.base}/meetings/{other}/participants/{pid}"), 404, "PARTICIPANT_NOT_FOUND")


# presets ----------------------------------------------------------------------------------


async def test_default_presets_exist(stack):
    async with stack.client() as c:
        items = ok(await c.get(f"{stack.base}/presets", params={"per_page": 100}))
        names = {p["name"] for p in items}
        assert {"group_call_host", "group_call_participant", "webinar_presenter", "webinar_viewer",
                "recorder_preset_v2"} <= names
        assert all(set(p) == {"id", "name", "created_at", "updated_at"} for p in items)
        by_name = {p["name"]: p["id"] for p in items}
        recorder = ok(await c.get(f"{stack.base}/presets/{by_name['recorder_preset_v2']}"))
        assert recorder["permissions"]["is_recorder"] is True
        assert recorder["permissions"]["hidden_participant"] is True
        viewer = ok(await c.get(f"{stack.base}/presets/{by_name['webinar_viewer']}"))
        assert viewer["config"]["view_type"] == "WEBINAR"
        assert viewer["permissions"]["stage_enabled"] is True
        assert viewer["permissions"]["stage_access"] == "CAN_REQUEST"
        assert viewer["permissions"]["media"]["video"]["can_produce"] == "CAN_REQUEST"
        presenter = ok(await c.get(f"{stack.base}/presets/{by_name['webinar_presenter']}"))
        assert presenter["permissions"]["stage_access"] == "ALLOWED"
        assert presenter["ui"]["design_tokens"]["colors"]["brand"]["500"] == "#b56927"


async def test_preset_crud_full_schema(stack):
    preset = copy.deepcopy(PRESET)
    preset["name"] = f"custom_{uuid.uuid4().hex[:6]}"
    async with stack.client() as c:
        created = ok(await c.post(f"{stack.base}/presets", json=preset), 200)
        assert uuid.UUID(created["id"]) and created["created_at"] and "app_id" not in created
        for part in ("name", "config", "permissions", "ui"):
            assert created[part] == preset[part], part
        pid = created["id"]
        assert ok(await c.get(f"{stack.base}/presets/{pid}")) == created
        listed = ok(await c.get(f"{stack.base}/presets", params={"search": preset["name"]}))
        assert listed == [{"id": pid, "name": preset["name"], "created_at": created["created_at"],
                           "updated_at": created["updated_at"]}]
        fails(await c.post(f"{stack.base}/presets", json=preset), 409, "PRESET_NAME_TAKEN")

        patched = ok(await c.patch(f"{stack.base}/presets/{pid}", json={
            "config": {"max_video_streams": {"desktop": 25}},
            "permissions": {"media": {"screenshare": {"can_produce": "ALLOWED"}}},
            "ui": {"design_tokens": {"theme": "light", "colors": {"brand": {
                "300": "#000", "400": "#111", "500": "#222", "600": "#333", "700": "#444"}}}},
        }))
        assert patched["config"]["max_video_streams"] == {"mobile": 4, "desktop": 25}
        assert patched["permissions"]["media"]["screenshare"]["can_produce"] == "ALLOWED"
        assert patched["permissions"]["media"]["video"]["can_produce"] == "CAN_REQUEST"
        assert patched["ui"]["design_tokens"]["theme"] == "light"
        assert patched["ui"]["design_tokens"]["colors"]["brand"]["300"] == "#000"
        assert patched["ui"]["design_tokens"]["colors"]["danger"] == "#FF2D2D"
        assert patched["name"] == preset["name"]

        replacement = copy.deepcopy(PRESET)
        replacement["name"] = preset["name"] + "_v2"
        replacement["config"]["view_type"] = "AUDIO_ROOM"
        replaced = ok(await c.put(f"{stack.base}/presets/{pid}", json=replacement))
        assert replaced["name"] == replacement["name"] and replaced["config"]["view_type"] == "AUDIO_ROOM"
        assert replaced["config"]["max_video_streams"]["desktop"] == 12

        # In use by a participant: cannot be deleted.
        mid = ok(await c.post(f"{stack.base}/meetings", json={}), 201)["id"]
        part = ok(await c.post(f"{stack.base}/meetings/{mid}/participants", json={
            "custom_participant_id": "u", "preset_name": replacement["name"]}), 201)
        fails(await c.delete(f"{stack.base}/presets/{pid}"), 409, "PRESET_IN_USE")
        ok(await c.delete(f"{stack.base}/meetings/{mid}/participants/{part['id']}"))

        deleted = ok(await c.delete(f"{stack.base}/presets/{pid}"))
        assert deleted["id"] == pid and deleted["name"] == replacement["name"]
        fails(await c.get(f"{stack.base}/presets/{pid}"), 404, "PRESET_NOT_FOUND")
        fails(await c.delete(f"{stack.base}/presets/{pid}"), 404, "PRESET_NOT_FOUND")


def _without(path: str) -> dict[str, Any]:
    body = copy.deepcopy(PRESET)
    body["name"] = f"bad_{uuid.uuid4().hex[:6]}"
    *parents, leaf = path.split(".")
    node = body
    for p in parents:
        node = node[p]
    del node[leaf]
    return body


def _with(path: str, value: Any) -> dict[str, Any]:
    body = copy.deepcopy(PRESET)
    body["name"] = f"bad_{uuid.uuid4().hex[:6]}"
    *parents, leaf = path.split(".")
    node = body
    for p in parents:
        node = node[p]
    node[leaf] = value
    return body


@pytest.mark.parametrize("body,field", [
    (_without("config"), "config"),
    (_without("ui"), "ui"),
    (_without("name"), "name"),
    (_without("config.view_type"), "view_type"),
    (_without("permissions.waiting_room_type"), "waiting_room_type"),
    (_without("permissions.media.audio"), "audio"),
    (_without("ui.design_tokens.colors.brand"), "brand"),
    (_with("name", "x" * 101), "name"),
    (_with("name", "has/slash"), "name"),
    (_with("config.view_type", "CHAT_ROOM"), "view_type"),
    (_with("config.media.video.quality", "8k"), "quality"),
    (_with("config.media.video.frame_rate", 500), "frame_rate"),
    (_with("config.max_video_streams", {"mobile": "4", "desktop": 9}), "mobile"),
    (_with("permissions.kick_participant", "true"), "kick_participant"),
    (_with("permissions.media.video.can_produce", "MAYBE"), "can_produce"),
    (_with("ui.design_tokens.border_radius", "extra_rounded"), "border_radius"),
    (_with("ui.design_tokens.colors.brand", {"300": "#000"}), "brand"),
    (_with("ui.design_tokens.colors.danger", "red"), "danger"),
    (_with("ui.design_tokens.logo", "l" * 3000), "logo"),
])
async def test_preset_bad_input(stack, body, field):
    async with stack.client() as c:
        error = fails(await c.post(f"{stack.base}/presets", json=body), 400, "INVALID_FIELD")
        assert field in error["message"]


async def test_preset_bad_ids_and_patches(stack):
    async with stack.client() as c:
        for bad in ("nope", str(uuid.uuid4())):
            fails(await c.get(f"{stack.base}/presets/{bad}"), 404, "PRESET_NOT_FOUND")
            fails(await c.patch(f"{stack.base}/presets/{bad}", json={"name": "x"}), 404, "PRESET_NOT_FOUND")
            fails(await c.put(f"{stack.base}/presets/{bad}", json=PRESET), 404, "PRESET_NOT_FOUND")
            fails(await c.delete(f"{stack.base}/presets/{bad}"), 404, "PRESET_NOT_FOUND")
        items = ok(await c.get(f"{stack.base}/presets", params={"search": "group_call_host"}))
        host = next(p for p in items if p["name"] == "group_call_host")
        fails(await c.patch(f"{stack.base}/presets/{host['id']}", json={"name": "group_call_participant"}), 409,
              "PRESET_NAME_TAKEN")
        fails(await c.patch(f"{stack.base}/presets/{host['id']}", json={"config": {"view_type": None}}), 400,
              "INVALID_FIELD")
        fails(await c.patch(f"{stack.base}/presets/{host['id']}", json={"config": {"media": {"video": {
            "frame_rate": 0}}}}), 400, "INVALID_FIELD")


# tenant isolation -------------------------------------------------------------------------


async def _second_tenant(stack) -> tuple[str, str, str]:
    """A second account with its own app and API token (created through the auth service)."""
    md = internal_metadata(stack.internal_token)
    async with grpc.aio.insecure_channel(stack.grpc["auth"]) as channel:
        stub = auth_service_pb2_grpc.AuthServiceStub(channel)
        account = (await stub.CreateAccount(auth_service_pb2.CreateAccountRequest(name="tenant-b"), metadata=md)).account
        token = await stub.CreateApiToken(auth_service_pb2.CreateApiTokenRequest(account_id=account.id), metadata=md)
        app = (await stub.CreateApp(auth_service_pb2.CreateAppRequest(account_id=account.id, name="b-app"),
                                    metadata=md)).app
    return account.id, app.id, token.secret


async def test_tenant_isolation(stack):
    account_b, app_b, token_b = await _second_tenant(stack)
    async with stack.client() as a:
        mid = ok(await a.post(f"{stack.base}/meetings", json={"title": "secret"}), 201)["id"]
        pid = ok(await a.post(f"{stack.base}/meetings/{mid}/participants", json={
            "custom_participant_id": "u", "preset_name": "group_call_host"}), 201)["id"]
        preset_id = ok(await a.get(f"{stack.base}/presets", params={"search": "webinar_viewer"}))[0]["id"]

    base_b = f"/client/v4/accounts/{account_b}/realtime/kit/{app_b}"
    async with stack.client(token_b) as b:
        # B's own app works and starts with its own default presets.
        own = ok(await b.get(f"{base_b}/presets", params={"per_page": 100}))
        assert preset_id not in {p["id"] for p in own}
        ok(await b.post(f"{base_b}/meetings", json={"title": "b"}), 201)
        assert all(m["id"] != mid for m in ok(await b.get(f"{base_b}/meetings", params={"search": "secret"})))

        # A's rows addressed through B's app: not found.
        fails(await b.get(f"{base_b}/meetings/{mid}"), 404, "MEETING_NOT_FOUND")
        fails(await b.patch(f"{base_b}/meetings/{mid}", json={"title": "pwned"}), 404, "MEETING_NOT_FOUND")
        fails(await b.get(f"{base_b}/meetings/{mid}/participants/{pid}"), 404, "MEETING_NOT_FOUND")
        fails(await b.delete(f"{base_b}/meetings/{mid}/participants/{pid}"), 404, "MEETING_NOT_FOUND")
        fails(await b.get(f"{base_b}/presets/{preset_id}"), 404, "PRESET_NOT_FOUND")
        fails(await b.delete(f"{base_b}/presets/{preset_id}"), 404, "PRESET_NOT_FOUND")

        # A's app through B's own account path: the app is not B's.
        base_mixed = f"/client/v4/accounts/{account_b}/realtime/kit/{stack.app_id}"
        fails(await b.get(f"{base_mixed}/meetings/{mid}"), 404, "APP_NOT_FOUND")
        fails(await b.get(f"{base_mixed}/meetings"), 404, "APP_NOT_FOUND")
        fails(await b.post(f"{base_mixed}/meetings/{mid}/participants", json={
            "custom_participant_id": "x", "preset_name": "group_call_host"}), 404, "APP_NOT_FOUND")
        fails(await b.patch(f"{base_mixed}/presets/{preset_id}", json={"name": "x"}), 404, "APP_NOT_FOUND")

        # A's full path with B's token: the token is not A's account's.
        error = fails(await b.get(f"{stack.base}/meetings/{mid}"), 403)
        assert error["reason"] == "FORBIDDEN"
        fails(await b.patch(f"{stack.base}/meetings/{mid}", json={"title": "pwned"}), 403)

    async with stack.client("not-a-real-token") as anon:
        fails(await anon.get(f"{stack.base}/meetings/{mid}"), 401)
    async with stack.client() as a:
        assert ok(await a.get(f"{stack.base}/meetings/{mid}"))["title"] == "secret"
        assert ok(await a.get(f"{stack.base}/meetings/{mid}/participants/{pid}"))["id"] == pid
