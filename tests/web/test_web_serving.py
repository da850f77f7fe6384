"""The gateway's web module over plain HTTP: static SDK/UI files, the meeting page, the per-token
context (preset with ui.design_tokens) and the demo launcher."""

from __future__ import annotations

from typing import Any

import httpx


async def test_static_files_and_meeting_page(stack: Any) -> None:
    async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=10) as http:
        core = await http.get("/web/core/index.js")
        assert core.status_code == 200
        assert core.headers["content-type"].startswith("text/javascript")
        assert "RealtimeKitClient" in core.text
        css = await http.get("/web/ui/styles.css")
        assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
        for bad in ("/web/../../pyproject.toml", "/web/%2e%2e/%2e%2e/pyproject.toml", "/web/core/nope.js", "/web/"):
            assert (await http.get(bad)).status_code == 404, bad
        page = await http.get("/meeting", params={"authToken": "x"})
        assert page.status_code == 200
        assert "<rtk-meeting" in page.text and "/web/app/meeting.js" in page.text
        assert page.headers["referrer-policy"] == "no-referrer"
        assert page.headers["cache-control"] == "no-store"


async def test_context_carries_preset_design_tokens(stack: Any, api: Any) -> None:
    tokens = {
        "border_radius": "sharp", "border_width": "fat", "spacing_base": 6, "theme": "light",
        "colors": {
            "brand": {"300": "#111111", "400": "#222222", "500": "#0055ff", "600": "#333333", "700": "#444444"},
            "background": {"600": "#f0f0f0", "700": "#f4f4f4", "800": "#f8f8f8", "900": "#fafafa", "1000": "#ffffff"},
            "danger": "#ff0000", "text": "#101010", "text_on_brand": "#ffffff", "success": "#00aa00",
            "video_bg": "#202020", "warning": "#ffaa00",
        },
        "logo": "",
    }
    preset = await api.preset_copy("group_call_participant", ui={"design_tokens": tokens})
    meeting_id = await api.meeting("context test")
    token = await api.token(meeting_id, preset, "Ada")
    async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=10) as http:
        response = await http.get("/v1/web/context", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200, response.text
        data = response.json()["data"]
        assert data["preset"]["name"] == preset
        assert data["preset"]["ui"]["design_tokens"]["colors"]["brand"]["500"] == "#0055ff"
        assert data["preset"]["ui"]["design_tokens"]["border_radius"] == "sharp"
        assert data["preset"]["permissions"]["media"]["video"]["can_produce"] == "ALLOWED"
        assert data["participant"]["name"] == "Ada"
        assert data["meeting"] == {"id": meeting_id, "title": "context test"}
        refused = await http.get("/v1/web/context", params={"authToken": token[:-4] + "AAAA"})
        assert refused.status_code == 401
        assert refused.json()["success"] is False
        assert (await http.get("/v1/web/context")).status_code == 401


async def test_demo_launcher_hands_out_links(stack: Any) -> None:
    async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=15) as http:
        home = await http.get("/")
        assert home.status_code == 200 and "Create meeting" in home.text
        created = await http.post("/demo/meetings", json={"title": "Launch", "kind": "group_call", "waiting_room": True})
        assert created.status_code == 200, created.text
        data = created.json()["data"]
        assert data["host_url"].startswith("/meeting?authToken=")
        assert data["participant_preset"] == "demo_waiting_room_guest"
        joined = await http.get(data["participant_url"] + "&name=Guest%20One")
        assert joined.status_code == 303
        assert joined.headers["location"].startswith("/meeting?authToken=")
        token = joined.headers["location"].split("authToken=")[1]
        context = await http.get("/v1/web/context", params={"authToken": token})
        assert context.json()["data"]["participant"]["name"] == "Guest One"
        assert context.json()["data"]["preset"]["permissions"]["waiting_room_type"] == "SKIP_ON_ACCEPT"
        webinar = await http.post("/demo/meetings", json={"kind": "webinar"})
        assert webinar.json()["data"]["participant_preset"] == "webinar_viewer"
        bad = await http.get(f"/demo/meetings/{data['meeting_id']}/join", params={"preset": "recorder_preset_v2"})
        assert bad.status_code == 400
