"""Domain records (what the store returns and the API layer converts to protobuf)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from rtk_auth.domain.keys import StoredPrivateKey


@dataclass(frozen=True, slots=True)
class Account:
    id: str
    name: str
    create_time: dt.datetime


@dataclass(frozen=True, slots=True)
class App:
    id: str
    account_id: str
    name: str
    create_time: dt.datetime


@dataclass(frozen=True, slots=True)
class ApiToken:
    id: str
    account_id: str
    name: str
    create_time: dt.datetime
    revoke_time: dt.datetime | None = None


class KeyState(StrEnum):
    ACTIVE = "ACTIVE"
    VERIFY_ONLY = "VERIFY_ONLY"
    RETIRED = "RETIRED"


@dataclass(frozen=True, slots=True)
class StoredKey:
    """A signing or webhook key row."""

    kid: str
    state: KeyState
    public_key_pem: str
    private_key: StoredPrivateKey
    create_time: dt.datetime
    retire_time: dt.datetime | None = None
    algorithm: str = "RS256"


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A participant-token row (what revocation needs)."""

    jti: str
    app_id: str
    meeting_id: str
    participant_id: str
    preset_id: str
    kid: str
    issue_time: dt.datetime
    expire_time: dt.datetime
    revoke_time: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """Verified participant-token claims."""

    org_id: str
    meeting_id: str
    participant_id: str
    preset_id: str
    iat: int
    exp: int
    token_id: str


@dataclass(frozen=True, slots=True)
class Page:
    apps: list[App]
    next_page_token: str
    total_size: int
