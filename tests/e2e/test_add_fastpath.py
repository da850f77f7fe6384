"""The gateway's add-participant fast path (rest/fastpath.py) answers exactly as the FastAPI route.

A body sent as `application/json` takes the fast path; the same body sent as a `+json` media type,
which only FastAPI accepts, takes the route. Both must give the same status, envelope and fields,
for successes and for every kind of failure the fast path handles itself.
"""

from __future__ import annotations

import uuid

import httpx
import jwt
import pytest

pytestmark = pytest.mark.slow

FAST = {"Content-Type": "application/json"}
ROUTE = {"Content-Type": "application/vnd.rtk+json"}


def _shape(envelope: dict) -> dict:
    """The envelope with its per-request values (ids, times, token) reduced to their types."""
    data = envelope.get("data")
    if isinstance(data, dict):
        volatile = {"id", "created_at", "updated_at", "token"}
        data = {k: (type(v).__name__ if k in volatile else v) for k, v in data.items()}
    return {**envelope, "data": data} if "data" in envelope else envelope


async def _both(client: httpx.AsyncClient, url: str, body: bytes) -> tuple[httpx.Response, httpx.Response]:
    fast = await client.post(url, content=body, headers=FAST)
    route = await client.post(url, content=body, headers=ROUTE)
    return fast, route


async def test_fast_path_and_route_give_the_same_answers(stack):
    async with stack.client() as client:
        meeting = (await client.post(f"{stack.base}/meetings", json={"title": "fast path"})).json()["data"]["id"]
        url = f"{stack.base}/meetings/{meeting}/participants"

        body = b'{"name": "Ada", "preset_name": "group_call_host", "custom_participant_id": "ada-1", "picture": null}'
        fast, route = await _both(client, url, body)
        assert fast.status_code == route.status_code == 201, (fast.text, route.text)
        assert fast.headers["content-type"] == route.headers["content-type"] == "application/json"
        assert _shape(fast.json()) == _shape(route.json())
        assert fast.json()["data"]["name"] == "Ada"
        claims = jwt.decode(fast.json()["data"]["token"], options={"verify_signature": False})
        assert claims["participantId"] == fast.json()["data"]["id"] and claims["meetingId"] == meeting

        # Both participants exist, each as its response said.
        listed = (await client.get(url)).json()["data"]
        assert {p["id"] for p in listed} == {fast.json()["data"]["id"], route.json()["data"]["id"]}
        added = {p["id"]: p for p in listed}
        assert added[fast.json()["data"]["id"]]["custom_participant_id"] == "ada-1"

        # Unknown fields are ignored by both, as by RealtimeKit.
        fast, route = await _both(client, url, b'{"preset_name": "group_call_host", "custom_participant_id": "u", "x": 1}')
        assert fast.status_code == route.status_code == 201 and _shape(fast.json()) == _shape(route.json())

        # Dyte's alias, and a content type with parameters, also take the fast path.
        alias = await client.post(url, content=b'{"preset_name": "group_call_host", "client_specific_id": "x"}',
                                  headers={"Content-Type": "application/json; charset=utf-8"})
        assert alias.status_code == 201 and alias.json()["data"]["custom_participant_id"] == "x", alias.text

        failures = {
            "unknown preset": (url, b'{"preset_name": "no_such_preset", "custom_participant_id": "a"}'),
            "unknown meeting": (f"{stack.base}/meetings/{uuid.uuid4()}/participants",
                                b'{"preset_name": "group_call_host", "custom_participant_id": "a"}'),
            "malformed meeting id": (f"{stack.base}/meetings/not-a-uuid/participants",
                                     b'{"preset_name": "group_call_host", "custom_participant_id": "a"}'),
            "missing field": (url, b'{"preset_name": "group_call_host"}'),
            "wrong type": (url, b'{"preset_name": 5, "custom_participant_id": "a"}'),
            "not an object": (url, b'["group_call_host"]'),
            "not JSON": (url, b'{"preset_name": '),
            "empty body": (url, b""),
        }
        for what, (target, payload) in failures.items():
            fast, route = await _both(client, target, payload)
            assert 400 <= fast.status_code < 500, (what, fast.status_code, fast.text)
            assert (fast.status_code, fast.json()) == (route.status_code, route.json()), what
            assert fast.json()["success"] is False and fast.json()["error"]["message"], what

    # Credentials: missing, malformed and wrong tokens, and another account's path.
    body = b'{"preset_name": "group_call_host", "custom_participant_id": "a"}'
    for headers in ({}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer"},
                    {"Authorization": "Bearer not-a-real-token"}):
        async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=30) as anonymous:
            fast = await anonymous.post(url, content=body, headers={**FAST, **headers})
            route = await anonymous.post(url, content=body, headers={**ROUTE, **headers})
        assert fast.status_code in (401, 403), (headers, fast.text)
        assert (fast.status_code, fast.json()) == (route.status_code, route.json()), headers
    other_account = url.replace(stack.account_id, str(uuid.uuid4()))
    async with stack.client() as client:
        fast, route = await _both(client, other_account, body)
    assert 400 <= fast.status_code < 500, fast.text
    assert (fast.status_code, fast.json()) == (route.status_code, route.json())


async def test_chunked_body_takes_the_same_path(stack):
    async with stack.client() as client:
        meeting = (await client.post(f"{stack.base}/meetings", json={"title": "chunked"})).json()["data"]["id"]
        url = f"{stack.base}/meetings/{meeting}/participants"

        async def chunks():
            yield b'{"preset_name": "group_call_host", '
            yield b'"custom_participant_id": "chunked"}'

        response = await client.post(url, content=chunks(), headers=FAST)
        assert response.status_code == 201, response.text
        assert response.json()["data"]["custom_participant_id"] == "chunked"
