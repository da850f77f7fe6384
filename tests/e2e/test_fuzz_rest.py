"""Property-based tests over the REST edge: thousands of generated bodies, never a 5xx."""

from __future__ import annotations

from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

json_scalars = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=40)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)

MEETING_FIELDS = ["title", "record_on_start", "live_stream_on_start", "persist_chat", "summarize_on_end",
                  "transcribe_on_end", "session_keep_alive_time_in_secs", "recording_config", "ai_config", "status"]
PARTICIPANT_FIELDS = ["name", "picture", "preset_name", "custom_participant_id"]
PRESET_FIELDS = ["name", "config", "permissions", "ui"]


def bodies(fields: list[str]):
    known = st.dictionaries(st.sampled_from(fields), json_values, max_size=len(fields))
    return known | json_values


@pytest.fixture(scope="module")
def fuzz_client(stack):
    with httpx.Client(base_url=stack.gateway_url, headers={"Authorization": f"Bearer {stack.api_token}"},
                      timeout=30) as client:
        meeting = client.post(f"{stack.base}/meetings", json={"title": "fuzz"}).json()["data"]["id"]
        yield client, stack.base, meeting


def _check(response: httpx.Response) -> None:
    assert response.status_code < 500, (response.status_code, response.text)
    body = response.json()
    assert isinstance(body, dict) and "success" in body
    if response.status_code >= 400:
        assert body["success"] is False and body["error"]["code"] == response.status_code


FUZZ = settings(max_examples=700, deadline=None, suppress_health_check=list(HealthCheck))


@FUZZ
@given(body=bodies(MEETING_FIELDS))
def test_meeting_bodies_never_5xx(fuzz_client, body):
    client, base, meeting = fuzz_client
    _check(client.post(f"{base}/meetings", json=body))
    _check(client.patch(f"{base}/meetings/{meeting}", json=body))


@FUZZ
@given(body=bodies(PARTICIPANT_FIELDS))
def test_participant_bodies_never_5xx(fuzz_client, body):
    client, base, meeting = fuzz_client
    _check(client.post(f"{base}/meetings/{meeting}/participants", json=body))


@FUZZ
@given(body=bodies(PRESET_FIELDS))
def test_preset_bodies_never_5xx(fuzz_client, body):
    client, base, _ = fuzz_client
    _check(client.post(f"{base}/presets", json=body))


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    segment=st.text(min_size=1, max_size=80).filter(lambda s: "/" not in s and "?" not in s and "#" not in s),
    page_no=st.integers(-5, 10**7) | st.text(max_size=5),
    per_page=st.integers(-5, 10**6) | st.text(max_size=5),
)
def test_ids_and_paging_params_never_5xx(fuzz_client, segment, page_no, per_page):
    client, base, _ = fuzz_client
    raw = segment
    segment = quote(segment, safe="")
    _check(client.get(f"{base}/meetings/{segment}"))
    _check(client.get(f"{base}/meetings/{segment}/participants/{segment}"))
    _check(client.get(f"{base}/meetings", params={"page_no": page_no, "per_page": per_page, "search": raw}))
    _check(client.post(f"{base}/meetings/{segment}/participants",
                       content=raw.encode(), headers={"Content-Type": "application/json"}))
