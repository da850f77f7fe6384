"""Typed errors of the SDK: `ClientError(code, message)` as in RealtimeKit's Core SDK.

`code` is RealtimeKit's four-digit client error code (reference §10.13: `00xx` client,
`01xx` permission, `05xx` chat, `12xx` host actions, …); `reason` is the server's catalogue
reason (`TOKEN_EXPIRED`, `PERMISSION_DENIED_BY_PRESET`, …) when the error came from the server.
"""

from __future__ import annotations

# Server reason → RealtimeKit client error code. Reasons not listed map to "0000".
REASON_CODES: dict[str, str] = {
    "TOKEN_MISSING": "0004",
    "TOKEN_INVALID": "0004",
    "TOKEN_EXPIRED": "0004",
    "TOKEN_REVOKED": "0004",
    "MEETING_NOT_FOUND": "0404",
    "MEETING_INACTIVE": "0404",
    "RATE_LIMITED": "0013",
    "PERMISSION_DENIED_BY_PRESET": "0101",
    "FORBIDDEN": "0101",
    "NOT_ADMITTED": "0102",
    "WAITING_ROOM_REJECTED": "0103",
    "STAGE_ACCESS_NOT_ALLOWED": "0104",
    "INVALID_FIELD": "0010",
    "PEER_NOT_FOUND": "0405",
    "POLL_NOT_FOUND": "0406",
    "SESSION_NOT_FOUND": "0407",
    "NO_ACTIVE_SESSION": "0407",
    "DEPENDENCY_UNAVAILABLE": "0503",
    "INTERNAL": "0500",
}

# Client-side codes.
CODE_INVALID_TOKEN = "0004"
CODE_SOCKET_ERROR = "0012"
CODE_RATE_LIMITED = "0013"
CODE_NOT_CONNECTED = "0014"
CODE_TIMEOUT = "0015"
CODE_INVALID_STATE = "0016"
CODE_PERMISSION_DENIED = "0101"
CODE_KICK_PERMISSION_DENIED = "1201"


class ClientError(Exception):
    """A failure reported to the SDK user: `code` (four digits), `message`, optional `reason`."""

    def __init__(self, code: str, message: str, reason: str | None = None, **details: object) -> None:
        super().__init__(f"[{code}] {message}" + (f" ({reason})" if reason else ""))
        self.code = code
        self.message = message
        self.reason = reason
        self.details = details

    @classmethod
    def from_reason(cls, reason: str, message: str, **details: object) -> ClientError:
        return cls(REASON_CODES.get(reason, "0000"), message, reason or None, **details)

    def __repr__(self) -> str:
        return f"ClientError(code={self.code!r}, message={self.message!r}, reason={self.reason!r})"


class AuthError(ClientError):
    """The auth token was refused (invalid, expired, revoked, other meeting)."""


class PermissionDenied(ClientError):
    """The local participant's preset does not allow the action."""


class ConnectionLost(ClientError):
    """The signalling connection dropped and could not be resumed."""


def error_for(reason: str, message: str, **details: object) -> ClientError:
    """The most specific ClientError subclass for a server reason."""
    code = REASON_CODES.get(reason, "0000")
    if code == CODE_INVALID_TOKEN:
        return AuthError(code, message, reason, **details)
    if reason in ("PERMISSION_DENIED_BY_PRESET", "FORBIDDEN", "NOT_ADMITTED", "STAGE_ACCESS_NOT_ALLOWED"):
        return PermissionDenied(code, message, reason, **details)
    return ClientError(code, message, reason or None, **details)
