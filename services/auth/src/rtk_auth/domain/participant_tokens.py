"""Participant tokens: RS256 JWTs in RealtimeKit's format.

Header `{"alg": "RS256", "kid": <kid>, "typ": "JWT"}`; claims exactly `orgId` (app id),
`meetingId`, `participantId`, `presetId`, `iat`, `exp` — RealtimeKit's six — plus `jti`, which
this clone adds so that single tokens can be revoked. Every issued token is recorded (one
INSERT), which is what makes revocation and "refresh invalidates the old token" possible.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple, Protocol

import jwt
from rtkit.errors import ApiError, invalid_field

from rtk_auth.domain.ids import is_uuid, require_name, require_uuid
from rtk_auth.domain.keyring import KeyRing
from rtk_auth.domain.models import IssuedToken, TokenClaims
from rtk_auth.store import AuthStore

ALGORITHM = "RS256"
MAX_TOKEN_LENGTH = 8192
MAX_KID_LENGTH = 128
CLAIMS = ("orgId", "meetingId", "participantId", "presetId", "iat", "exp", "jti")
_STRING_CLAIMS = ("orgId", "meetingId", "participantId", "presetId", "jti")


class TokenRecorder(Protocol):
    """Persists an issued-token row before the token is handed out."""

    async def record(self, token: IssuedToken) -> None: ...


class MeetingDirectory(Protocol):
    """Where VerifyParticipantToken learns whether a meeting may be joined."""

    async def is_active(self, app_id: str, meeting_id: str) -> bool:
        """True for ACTIVE, False for INACTIVE; raises ApiError(MEETING_NOT_FOUND) when absent."""
        ...


MAX_BATCH = 500


class TokenRequest(NamedTuple):
    app_id: str
    meeting_id: str
    participant_id: str
    preset_id: str
    ttl_seconds: int | None = None


def _in_batch(exc: ApiError, index: int) -> ApiError:
    """The same validation error, its field named by position (`requests[3].meeting_id`)."""
    violations = [(f"requests[{index}].{field}", why) for field, why in exc.field_violations]
    if not violations:
        return exc
    field, why = violations[0]
    return ApiError(exc.reason, f"{field}: {why}", field_violations=violations, field=field)


def _invalid(message: str = "The participant token is invalid.") -> ApiError:
    return ApiError("TOKEN_INVALID", message)


class ParticipantTokens:
    def __init__(
        self,
        store: AuthStore,
        keyring: KeyRing,
        meetings: MeetingDirectory | None,
        *,
        default_ttl: int,
        max_ttl: int,
        leeway: int = 30,
        clock: Callable[[], float] = time.time,
        recorder: TokenRecorder | None = None,
        signer_threads: int = 0,
    ) -> None:
        self._store, self._keyring, self._meetings = store, keyring, meetings
        self._recorder = recorder
        self._clock = clock
        self._default_ttl, self._max_ttl, self._leeway = default_ttl, max_ttl, leeway
        self._signer_threads = max(1, signer_threads)
        self._signers = (ThreadPoolExecutor(signer_threads, thread_name_prefix="token-signer")
                         if signer_threads > 0 else None)

    async def issue(
        self, app_id: str, meeting_id: str, participant_id: str, preset_id: str, ttl_seconds: int | None = None
    ) -> tuple[str, IssuedToken]:
        (token, record), = await self._sign_all([TokenRequest(app_id, meeting_id, participant_id, preset_id,
                                                              ttl_seconds)])
        if self._recorder is not None:
            await self._recorder.record(record)
        else:
            await self._store.insert_participant_tokens([record])
        return token, record

    async def issue_many(self, requests: Sequence[TokenRequest]) -> list[tuple[str, IssuedToken]]:
        """All or nothing: every request is validated and signed before one INSERT records them."""
        if not 1 <= len(requests) <= MAX_BATCH:
            raise invalid_field("requests", f"between 1 and {MAX_BATCH} items")
        for index, request in enumerate(requests):
            try:
                self._check(request)
            except ApiError as exc:
                raise _in_batch(exc, index) from None
        issued = await self._sign_all(requests)
        await self._store.insert_participant_tokens([record for _, record in issued])
        return issued

    async def _sign_all(self, requests: Sequence[TokenRequest]) -> list[tuple[str, IssuedToken]]:
        """Sign on the thread pool, one slice per thread: OpenSSL's RSA signing releases the GIL, so
        a batch uses every core and the event loop keeps serving while it is signed."""
        if self._signers is None:
            return [self._sign(r) for r in requests]
        loop = asyncio.get_running_loop()
        per_thread = -(-len(requests) // self._signer_threads)
        slices = [requests[i:i + per_thread] for i in range(0, len(requests), per_thread)]
        signed = await asyncio.gather(*(
            loop.run_in_executor(self._signers, self._sign_slice, part) for part in slices
        ))
        return [item for part in signed for item in part]

    def _sign_slice(self, requests: Sequence[TokenRequest]) -> list[tuple[str, IssuedToken]]:
        return [self._sign(r) for r in requests]

    def close(self) -> None:
        if self._signers is not None:
            self._signers.shutdown(wait=True)

    def _check(self, request: TokenRequest) -> tuple[str, str, str, str, int]:
        """The request's normalised ids and TTL, or the ApiError naming the bad field."""
        app_id = require_uuid("app_id", request.app_id)
        meeting_id = require_uuid("meeting_id", request.meeting_id)
        participant_id = require_uuid("participant_id", request.participant_id)
        preset_id = require_name("preset_id", request.preset_id)
        if request.ttl_seconds is None:
            ttl = self._default_ttl
        elif 0 < request.ttl_seconds <= self._max_ttl:
            ttl = request.ttl_seconds
        else:
            raise invalid_field("ttl_seconds", f"must be between 1 and {self._max_ttl}")
        return app_id, meeting_id, participant_id, preset_id, ttl

    def _sign(self, request: TokenRequest) -> tuple[str, IssuedToken]:
        app_id, meeting_id, participant_id, preset_id, ttl = self._check(request)
        key = self._keyring.active
        jti = str(uuid.uuid4())
        iat = int(self._clock())
        exp = iat + ttl
        claims = {
            "orgId": app_id, "meetingId": meeting_id, "participantId": participant_id, "presetId": preset_id,
            "iat": iat, "exp": exp, "jti": jti,
        }
        token = jwt.encode(claims, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid})
        record = IssuedToken(
            jti=jti, app_id=app_id, meeting_id=meeting_id, participant_id=participant_id, preset_id=preset_id,
            kid=key.kid, issue_time=dt.datetime.fromtimestamp(iat, dt.UTC),
            expire_time=dt.datetime.fromtimestamp(exp, dt.UTC),
        )
        return token, record

    async def verify(
        self,
        token: str,
        *,
        meeting_id: str | None = None,
        account_id: str | None = None,
        check_meeting: bool = True,
    ) -> TokenClaims:
        """Verify signature, expiry, revocation, meeting match, tenant and meeting status.

        `account_id` set (API-token callers): the token's app must belong to that account.
        """
        token = token.strip()
        if not token:
            raise ApiError("TOKEN_MISSING", "A participant token is required.")
        if len(token) > MAX_TOKEN_LENGTH:
            raise _invalid()
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise _invalid() from None
        kid = header.get("kid")
        if header.get("alg") != ALGORITHM or not isinstance(kid, str) or not 0 < len(kid) <= MAX_KID_LENGTH:
            raise _invalid()
        public_key = await self._keyring.verification_key(kid)
        if public_key is None:
            raise _invalid("The participant token was signed by an unknown or retired key.")
        try:
            claims = jwt.decode(
                token,
                public_key,
                algorithms=[ALGORITHM],
                options={"require": list(CLAIMS), "verify_aud": False},
                leeway=self._leeway,
            )
        except jwt.ExpiredSignatureError:
            raise ApiError("TOKEN_EXPIRED", "The participant token has expired.") from None
        except jwt.PyJWTError:
            raise _invalid() from None
        if not all(isinstance(claims[c], str) for c in _STRING_CLAIMS) or not is_uuid(claims["jti"]):
            raise _invalid()
        if meeting_id and claims["meetingId"] != meeting_id.strip().lower():
            raise _invalid("The participant token is for another meeting.")
        record = await self._store.get_participant_token(claims["jti"])
        if (
            record is None
            or record.app_id != claims["orgId"]
            or record.participant_id != claims["participantId"]
            or record.meeting_id != claims["meetingId"]
        ):
            raise _invalid()
        if record.revoke_time is not None:
            raise ApiError("TOKEN_REVOKED", "The participant token has been revoked.")
        if account_id is not None and await self._store.account_of_app(record.app_id) != account_id:
            raise _invalid()
        if check_meeting and self._meetings is not None:
            if not await self._meetings.is_active(record.app_id, record.meeting_id):
                raise ApiError(
                    "MEETING_INACTIVE", f"Meeting {record.meeting_id} is inactive.", meetingId=record.meeting_id
                )
        return TokenClaims(
            org_id=claims["orgId"], meeting_id=claims["meetingId"], participant_id=claims["participantId"],
            preset_id=claims["presetId"], iat=int(claims["iat"]), exp=int(claims["exp"]), token_id=claims["jti"],
        )

    async def revoke(self, app_id: str, participant_id: str, except_token_id: str = "") -> int:
        app_id = require_uuid("app_id", app_id)
        participant_id = require_uuid("participant_id", participant_id)
        keep = require_uuid("except_token_id", except_token_id) if except_token_id else None
        return await self._store.revoke_participant_tokens(app_id, participant_id, keep)

    async def purge(self, older_than_seconds: int) -> int:
        cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=older_than_seconds)
        total = 0
        while (deleted := await self._store.purge_participant_tokens(cutoff)) > 0:
            total += deleted
        return total
