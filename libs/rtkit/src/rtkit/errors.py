"""The one error table: domain error reasons → gRPC codes and HTTP statuses.

Services raise `ApiError("MEETING_NOT_FOUND", "No meeting …", meetingId=…)`. The gRPC server
interceptor turns it into a `google.rpc.Status` with exactly one `ErrorInfo` (AIP-193); the
gateway turns a received status back into RealtimeKit's REST error envelope.
"""

from __future__ import annotations

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status
from realtime.common.v1 import error_reason_pb2

DOMAIN = "realtime.rtk"
_C = grpc.StatusCode

# reason → (gRPC code, HTTP status). Every ErrorReason value must appear here (tested).
ERROR_TABLE: dict[str, tuple[grpc.StatusCode, int]] = {
    "INVALID_FIELD": (_C.INVALID_ARGUMENT, 400),
    "ACCOUNT_NOT_FOUND": (_C.NOT_FOUND, 404),
    "APP_NOT_FOUND": (_C.NOT_FOUND, 404),
    "MEETING_NOT_FOUND": (_C.NOT_FOUND, 404),
    "PARTICIPANT_NOT_FOUND": (_C.NOT_FOUND, 404),
    "PRESET_NOT_FOUND": (_C.NOT_FOUND, 404),
    "SESSION_NOT_FOUND": (_C.NOT_FOUND, 404),
    "RECORDING_NOT_FOUND": (_C.NOT_FOUND, 404),
    "WEBHOOK_NOT_FOUND": (_C.NOT_FOUND, 404),
    "NO_ACTIVE_SESSION": (_C.NOT_FOUND, 404),
    "NO_ACTIVE_RECORDING": (_C.NOT_FOUND, 404),
    "PEER_NOT_FOUND": (_C.NOT_FOUND, 404),
    "POLL_NOT_FOUND": (_C.NOT_FOUND, 404),
    "SIGNING_KEY_NOT_FOUND": (_C.NOT_FOUND, 404),
    "PRESET_NAME_TAKEN": (_C.ALREADY_EXISTS, 409),
    "APP_NAME_TAKEN": (_C.ALREADY_EXISTS, 409),
    "PRESET_IN_USE": (_C.FAILED_PRECONDITION, 409),
    "MEETING_INACTIVE": (_C.FAILED_PRECONDITION, 400),
    "RECORDING_ALREADY_RUNNING": (_C.FAILED_PRECONDITION, 409),
    "TOKEN_MISSING": (_C.UNAUTHENTICATED, 401),
    "TOKEN_INVALID": (_C.UNAUTHENTICATED, 401),
    "TOKEN_EXPIRED": (_C.UNAUTHENTICATED, 401),
    "TOKEN_REVOKED": (_C.UNAUTHENTICATED, 401),
    "API_CREDENTIALS_INVALID": (_C.UNAUTHENTICATED, 401),
    "PERMISSION_DENIED_BY_PRESET": (_C.PERMISSION_DENIED, 403),
    "WAITING_ROOM_REJECTED": (_C.PERMISSION_DENIED, 403),
    "STAGE_ACCESS_NOT_ALLOWED": (_C.PERMISSION_DENIED, 403),
    "NOT_ADMITTED": (_C.PERMISSION_DENIED, 403),
    "FORBIDDEN": (_C.PERMISSION_DENIED, 403),
    "RATE_LIMITED": (_C.RESOURCE_EXHAUSTED, 429),
    "NO_SFU_CAPACITY": (_C.UNAVAILABLE, 503),
    "NODE_DRAINING": (_C.UNAVAILABLE, 503),
    "RECORDER_CAPACITY_EXHAUSTED": (_C.RESOURCE_EXHAUSTED, 503),
    "DATABASE_UNAVAILABLE": (_C.UNAVAILABLE, 503),
    "DEPENDENCY_UNAVAILABLE": (_C.UNAVAILABLE, 503),
    "INTERNAL": (_C.INTERNAL, 500),
}

# HTTP status for a gRPC status that carries no ErrorInfo (transport failures, deadlines).
HTTP_FOR_CODE: dict[grpc.StatusCode, int] = {
    _C.INVALID_ARGUMENT: 400,
    _C.OUT_OF_RANGE: 400,
    _C.FAILED_PRECONDITION: 400,
    _C.NOT_FOUND: 404,
    _C.ALREADY_EXISTS: 409,
    _C.ABORTED: 409,
    _C.UNAUTHENTICATED: 401,
    _C.PERMISSION_DENIED: 403,
    _C.RESOURCE_EXHAUSTED: 429,
    _C.UNAVAILABLE: 503,
    _C.DEADLINE_EXCEEDED: 504,
    _C.CANCELLED: 499,
    _C.UNIMPLEMENTED: 501,
}

_PREFIX = "ERROR_REASON_"
KNOWN_REASONS = frozenset(
    name.removeprefix(_PREFIX) for name in error_reason_pb2.ErrorReason.keys() if name != f"{_PREFIX}UNSPECIFIED"
)


class ApiError(Exception):
    """A failure to report to the caller, with a reason from the catalogue."""

    def __init__(
        self,
        reason: str,
        message: str,
        *,
        field_violations: list[tuple[str, str]] | None = None,
        **metadata: object,
    ) -> None:
        if reason not in ERROR_TABLE:
            raise ValueError(f"unknown error reason {reason!r}")
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.metadata = {k: str(v) for k, v in metadata.items() if v is not None}
        self.field_violations = field_violations or []

    @property
    def grpc_code(self) -> grpc.StatusCode:
        return ERROR_TABLE[self.reason][0]

    @property
    def http_status(self) -> int:
        return ERROR_TABLE[self.reason][1]

    def to_status(self, domain: str = DOMAIN) -> grpc.Status:
        return rpc_status.to_status(self.to_status_proto(domain))

    def to_status_proto(self, domain: str = DOMAIN) -> status_pb2.Status:
        """The `google.rpc.Status` (with its ErrorInfo), also used for one item of a batch response."""
        details = []
        info = any_pb2.Any()
        info.Pack(error_details_pb2.ErrorInfo(reason=self.reason, domain=domain, metadata=self.metadata))
        details.append(info)
        if self.field_violations:
            bad = error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(field=f, description=d)
                    for f, d in self.field_violations
                ]
            )
            packed = any_pb2.Any()
            packed.Pack(bad)
            details.append(packed)
        return status_pb2.Status(code=self.grpc_code.value[0], message=self.message, details=details)


def invalid_field(field: str, description: str) -> ApiError:
    """A validation failure on one request field."""
    return ApiError("INVALID_FIELD", f"{field}: {description}", field_violations=[(field, description)], field=field)


class DecodedError:
    """What a client learns from a failed RPC: code, message, reason, metadata, violations."""

    __slots__ = ("code", "message", "reason", "metadata", "field_violations")

    def __init__(self, code: grpc.StatusCode, message: str, reason: str | None, metadata: dict[str, str],
                 field_violations: list[tuple[str, str]]) -> None:
        self.code, self.message, self.reason = code, message, reason
        self.metadata, self.field_violations = metadata, field_violations

    @property
    def http_status(self) -> int:
        if self.reason in ERROR_TABLE:
            return ERROR_TABLE[self.reason][1]
        return HTTP_FOR_CODE.get(self.code, 500 if self.code == _C.INTERNAL else 502)


def decode_rpc_error(error: grpc.aio.AioRpcError | grpc.RpcError) -> DecodedError:
    """Extract the ErrorInfo (and BadRequest) from a failed call."""
    try:
        status = rpc_status.from_call(error)  # type: ignore[arg-type]
    except Exception:  # malformed trailers: fall back to the plain code
        status = None
    return _decode(error.code(), error.details() or error.code().name, status)


def decode_status(status: status_pb2.Status) -> DecodedError:
    """Decode a `google.rpc.Status` carried in a message (one failed item of a batch response)."""
    code = _CODE_BY_VALUE.get(status.code, _C.UNKNOWN)
    return _decode(code, status.message or code.name, status)


class ItemError(Exception):
    """One item of a batch call failed (the call itself succeeded); carries the decoded status."""

    def __init__(self, decoded: DecodedError) -> None:
        super().__init__(decoded.message)
        self.decoded = decoded


_CODE_BY_VALUE = {code.value[0]: code for code in grpc.StatusCode}


def _decode(code: grpc.StatusCode, message: str, status: status_pb2.Status | None) -> DecodedError:
    reason: str | None = None
    metadata: dict[str, str] = {}
    violations: list[tuple[str, str]] = []
    if status is not None:
        for detail in status.details:
            if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                detail.Unpack(info)
                reason, metadata = info.reason, dict(info.metadata)
            elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                bad = error_details_pb2.BadRequest()
                detail.Unpack(bad)
                violations = [(v.field, v.description) for v in bad.field_violations]
    if code == _C.UNAVAILABLE and reason is None:
        reason = "DEPENDENCY_UNAVAILABLE"
    return DecodedError(code, message, reason, metadata, violations)


__all__ = ["ApiError", "ERROR_TABLE", "KNOWN_REASONS", "invalid_field", "decode_rpc_error", "decode_status",
           "DecodedError", "ItemError", "code_pb2"]
