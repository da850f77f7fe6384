"""The relay's pure parts: JSON codec and token buckets (no stack needed)."""

from __future__ import annotations

import json

import pytest
from rtk_gateway.signaling import limits, messages
from rtk_gateway.signaling.limits import Rate
from rtk_gateway.signaling.ratelimit import RateLimiter


def test_decode_accepts_json_and_proto_names():
    for text in ('{"requestId": "1", "chatSend": {"message": "hi"}}',
                 '{"request_id": "1", "chat_send": {"message": "hi"}}'):
        message = messages.decode_json(text)
        assert message.request_id == "1" and message.chat_send.message == "hi"


@pytest.mark.parametrize(("text", "problem"), [
    ("nope", messages.MALFORMED_JSON),
    ("3", messages.MALFORMED_JSON),
    ('{"requestId": "x"}', messages.UNKNOWN_MESSAGE),
    ('{"pingPong": {}}', messages.UNKNOWN_MESSAGE),
    ('{"join": {}, "leave": {}}', messages.INVALID_MESSAGE),
    ('{"requestId": 5, "leave": {}}', messages.INVALID_MESSAGE),
    ('{"pollVote": {"optionIndex": "many"}}', messages.INVALID_MESSAGE),
    (json.dumps({"chatSend": {"message": "x" * limits.MAX_MESSAGE_BYTES}}), messages.MESSAGE_TOO_LARGE),
    ("[" * 5000 + "]" * 5000, messages.MALFORMED_JSON),
])
def test_decode_reports_the_problem(text, problem):
    with pytest.raises(messages.DecodeError) as caught:
        messages.decode_json(text)
    assert caught.value.problem == problem
    error = caught.value.to_server_message().error
    assert error.reason == "INVALID_FIELD" and error.metadata["problem"] == problem


def test_encode_uses_camel_case_and_enum_names():
    reply = messages.error("RATE_LIMITED", "slow down", request_id="r1", retryAfterMs=20)
    data = json.loads(messages.encode_json(reply))
    assert data["requestId"] == "r1" and data["error"]["code"] == "0013"
    assert data["error"]["metadata"] == {"retryAfterMs": "20"}


def test_token_buckets():
    now = [0.0]
    limiter = RateLimiter({"*": Rate(burst=3, per_second=1), "chat_fetch": Rate(burst=1, per_second=1)},
                          clock=lambda: now[0])
    assert limiter.take("chat_fetch") is None
    refused = limiter.take("chat_fetch")
    assert refused is not None and refused.kind == "chat_fetch" and refused.retry_after_ms >= 1
    assert limiter.take("heartbeat") is None and limiter.take("heartbeat") is None
    assert limiter.take("heartbeat").kind == "all"  # type: ignore[union-attr]
    now[0] = 1.0
    assert limiter.take("chat_fetch") is None
