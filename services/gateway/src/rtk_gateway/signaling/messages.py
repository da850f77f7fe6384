"""Pure message builders and the JSON codec of the signaling protocol (no I/O, no state).

The WebSocket speaks the protobuf JSON mapping of `realtime.signaling.v1.ClientMessage` /
`ServerMessage` (lowerCamelCase field names on output; both spellings accepted on input; enums
as value names). Decoding distinguishes the client mistakes the protocol reports separately:
malformed JSON, a message of an unknown type, and a known message with invalid fields.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from google.protobuf import json_format
from google.protobuf.timestamp_pb2 import Timestamp
from realtime.signaling.v1 import signal_pb2

from rtk_gateway.signaling import limits

ClientMessage = signal_pb2.ClientMessage
ServerMessage = signal_pb2.ServerMessage

# Names accepted for each ClientMessage kind (proto name and JSON name).
_ONEOF = ClientMessage.DESCRIPTOR.oneofs_by_name["message"]
CLIENT_KINDS: frozenset[str] = frozenset(
    name for field in _ONEOF.fields for name in (field.name, field.json_name)
)
_ENVELOPE_KEYS = frozenset({"request_id", "requestId"})

# Relay error reasons → RealtimeKit four-digit client codes (reference §10.13); others use the reason.
_CODES = {
    "TOKEN_MISSING": "0004",
    "TOKEN_INVALID": "0004",
    "TOKEN_EXPIRED": "0004",
    "TOKEN_REVOKED": "0004",
    "MEETING_NOT_FOUND": "0404",
    "MEETING_INACTIVE": "0404",
    "RATE_LIMITED": "0013",
    "PERMISSION_DENIED_BY_PRESET": "0101",
}

# Problem identifiers put in Error.metadata["problem"] for protocol violations.
MALFORMED_JSON = "malformedJson"
UNKNOWN_MESSAGE = "unknownMessageType"
INVALID_MESSAGE = "invalidMessage"
MESSAGE_TOO_LARGE = "messageTooLarge"
BINARY_FRAME = "binaryFrame"
NOT_JOINED = "notJoined"
ALREADY_JOINED = "alreadyJoined"
HEARTBEAT_TIMEOUT = "heartbeatTimeout"


class DecodeError(Exception):
    """A client frame that is not a valid ClientMessage; carries the Error to send back."""

    def __init__(self, problem: str, message: str, request_id: str = "") -> None:
        super().__init__(message)
        self.problem = problem
        self.message = message
        self.request_id = request_id

    def to_server_message(self) -> ServerMessage:
        return error("INVALID_FIELD", self.message, request_id=self.request_id, problem=self.problem)


# ---------------------------------------------------------------------------------------------
# builders


def _now() -> Timestamp:
    ts = Timestamp()
    ts.GetCurrentTime()
    return ts


def code_for(reason: str) -> str:
    return _CODES.get(reason, reason)


def error(reason: str, message: str, *, request_id: str = "", code: str | None = None, **metadata: object) -> ServerMessage:
    """An Error reply (or push when request_id is empty)."""
    return ServerMessage(
        request_id=request_id,
        time=_now(),
        error=signal_pb2.Error(
            code=code or code_for(reason),
            reason=reason,
            message=message,
            metadata={k: str(v) for k, v in metadata.items() if v is not None},
        ),
    )


def ack(request_id: str = "") -> ServerMessage:
    return ServerMessage(request_id=request_id, time=_now(), ack=signal_pb2.Ack())


def join_reply(join: signal_pb2.JoinResponse, request_id: str) -> ServerMessage:
    return ServerMessage(request_id=request_id, time=_now(), join_response=join)


def stamp(message: ServerMessage, request_id: str | None = None) -> ServerMessage:
    """Fill `time` (and a request_id) on a message built elsewhere."""
    if request_id is not None and not message.request_id:
        message.request_id = request_id
    if not message.HasField("time"):
        message.time.CopyFrom(_now())
    return message


@dataclass(frozen=True, slots=True)
class RateLimited:
    """Details of a refused message."""

    kind: str
    retry_after_ms: int


def rate_limited(request_id: str, limited: RateLimited) -> ServerMessage:
    return error(
        "RATE_LIMITED",
        f"Too many {limited.kind} messages; retry in {limited.retry_after_ms} ms.",
        request_id=request_id,
        kind=limited.kind,
        retryAfterMs=limited.retry_after_ms,
    )


# ---------------------------------------------------------------------------------------------
# codec


def kind_of(message: ClientMessage) -> str:
    """The oneof case of a ClientMessage ("" when unset)."""
    return message.WhichOneof("message") or ""


def encode_json(message: ServerMessage) -> str:
    return json_format.MessageToJson(message, indent=None, ensure_ascii=False)


def decode_json(text: str) -> ClientMessage:
    """Parse one WebSocket text frame into a ClientMessage or raise DecodeError."""
    if len(text.encode("utf-8")) > limits.MAX_MESSAGE_BYTES:
        raise DecodeError(MESSAGE_TOO_LARGE, f"Message larger than {limits.MAX_MESSAGE_BYTES} bytes.")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise DecodeError(MALFORMED_JSON, "Message is not valid JSON.") from None
    if not isinstance(data, dict):
        raise DecodeError(MALFORMED_JSON, "Message must be a JSON object.")
    request_id = data.get("requestId", data.get("request_id", ""))
    if not isinstance(request_id, str):
        raise DecodeError(INVALID_MESSAGE, "requestId must be a string.")
    if len(request_id) > limits.MAX_REQUEST_ID_CHARS:
        raise DecodeError(INVALID_MESSAGE, f"requestId longer than {limits.MAX_REQUEST_ID_CHARS} characters.")
    kinds = [k for k in data if k in CLIENT_KINDS]
    unknown = [k for k in data if k not in CLIENT_KINDS and k not in _ENVELOPE_KEYS]
    if not kinds:
        name = unknown[0] if unknown else ""
        hint = f" {name[:64]!r}" if name else ""
        raise DecodeError(UNKNOWN_MESSAGE, f"Unknown or missing message type{hint}.", request_id)
    if len(kinds) > 1:
        raise DecodeError(INVALID_MESSAGE, "A message carries exactly one type.", request_id)
    try:
        return json_format.ParseDict(data, ClientMessage(), ignore_unknown_fields=False, max_recursion_depth=32)
    except (json_format.ParseError, ValueError, TypeError, RecursionError) as exc:
        raise DecodeError(INVALID_MESSAGE, f"Invalid {kinds[0]} message: {str(exc)[:200]}", request_id) from None


def check_binary(message: ClientMessage) -> None:
    """Size check for messages that arrive already decoded (gRPC)."""
    if message.ByteSize() > limits.MAX_MESSAGE_BYTES:
        raise DecodeError(MESSAGE_TOO_LARGE, f"Message larger than {limits.MAX_MESSAGE_BYTES} bytes.",
                          message.request_id[: limits.MAX_REQUEST_ID_CHARS])
    if len(message.request_id) > limits.MAX_REQUEST_ID_CHARS:
        raise DecodeError(INVALID_MESSAGE, f"request_id longer than {limits.MAX_REQUEST_ID_CHARS} characters.")
    if not kind_of(message):
        raise DecodeError(UNKNOWN_MESSAGE, "Unknown or missing message type.", message.request_id)
