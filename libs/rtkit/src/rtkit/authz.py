"""Who is calling a gRPC method, and may they touch this app?

External backends present `authorization: Bearer <api token>`; other services present
`x-rtk-internal-token`. The gateway forwards the caller's bearer token and the account id
from the REST path (`x-rtk-account-id`), which must match the token's account. An app that
belongs to another account is reported as not found, so callers cannot probe for ids.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Protocol

import grpc

from rtkit.clients import ACCOUNT_HEADER, INTERNAL_TOKEN_HEADER
from rtkit.errors import ApiError


@dataclass(frozen=True, slots=True)
class Principal:
    account_id: str | None  # None for internal callers (they act on any account)
    internal: bool = False


class AuthBackend(Protocol):
    async def account_for_api_token(self, secret: str) -> str | None: ...

    async def account_for_app(self, app_id: str) -> str | None: ...


class _TtlCache:
    """Small positive/negative cache so that the hot path does not re-authenticate each RPC."""

    def __init__(self, ttl: float, max_entries: int = 10_000) -> None:
        self._ttl, self._max = ttl, max_entries
        self._data: dict[str, tuple[float, str | None]] = {}

    def get(self, key: str) -> tuple[bool, str | None]:
        hit = self._data.get(key)
        if hit is None or hit[0] < time.monotonic():
            return False, None
        return True, hit[1]

    def put(self, key: str, value: str | None) -> None:
        if len(self._data) >= self._max:
            self._data.clear()
        self._data[key] = (time.monotonic() + self._ttl, value)


def _metadata(context: grpc.aio.ServicerContext) -> dict[str, str]:
    return {k: v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)}


class Authorizer:
    def __init__(self, backend: AuthBackend, internal_token: str, *, ttl_seconds: float = 5.0) -> None:
        self._backend = backend
        self._internal = internal_token.encode()
        self._tokens = _TtlCache(ttl_seconds)
        self._apps = _TtlCache(ttl_seconds * 12)

    async def principal(self, context: grpc.aio.ServicerContext) -> Principal:
        md = _metadata(context)
        internal = md.get(INTERNAL_TOKEN_HEADER)
        if internal is not None:
            if self._internal and hmac.compare_digest(internal.encode(), self._internal):
                return Principal(account_id=md.get(ACCOUNT_HEADER) or None, internal=True)
            raise ApiError("API_CREDENTIALS_INVALID", "Invalid internal credentials.")
        auth = md.get("authorization", "")
        scheme, _, secret = auth.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise ApiError("TOKEN_MISSING", "Missing 'Authorization: Bearer <api token>'.")
        key = hashlib.sha256(secret.strip().encode()).hexdigest()
        cached, account_id = self._tokens.get(key)
        if not cached:
            account_id = await self._backend.account_for_api_token(secret.strip())
            self._tokens.put(key, account_id)
        if account_id is None:
            raise ApiError("API_CREDENTIALS_INVALID", "The API token is invalid or revoked.")
        claimed = md.get(ACCOUNT_HEADER)
        if claimed is not None and claimed != account_id:
            raise ApiError("FORBIDDEN", "The API token does not belong to this account.", accountId=claimed)
        return Principal(account_id=account_id)

    async def require_internal(self, context: grpc.aio.ServicerContext) -> Principal:
        principal = await self.principal(context)
        if not principal.internal:
            raise ApiError("FORBIDDEN", "This method is only available to platform services.")
        return principal

    async def require_app(self, context: grpc.aio.ServicerContext, app_id: str) -> Principal:
        """The caller may act on `app_id` (internal callers always may, if the app exists)."""
        principal = await self.principal(context)
        if not app_id:
            raise ApiError("INVALID_FIELD", "app_id is required.", field_violations=[("app_id", "required")])
        cached, owner = self._apps.get(app_id)
        if not cached:
            owner = await self._backend.account_for_app(app_id)
            if owner is not None:  # do not cache misses: the app may be created a moment later
                self._apps.put(app_id, owner)
        if owner is None or (principal.account_id is not None and owner != principal.account_id):
            raise ApiError("APP_NOT_FOUND", f"No app with id {app_id}.", appId=app_id)
        return principal


class GrpcAuthBackend:
    """AuthBackend that asks the auth service (used by every service but auth itself)."""

    def __init__(self, channel: grpc.aio.Channel, internal_token: str) -> None:
        from realtime.auth.v1 import auth_service_pb2_grpc

        self._stub = auth_service_pb2_grpc.AuthServiceStub(channel)
        self._metadata = ((INTERNAL_TOKEN_HEADER, internal_token),)

    async def account_for_api_token(self, secret: str) -> str | None:
        from realtime.auth.v1 import auth_service_pb2

        try:
            response = await self._stub.AuthenticateApiToken(
                auth_service_pb2.AuthenticateApiTokenRequest(secret=secret), metadata=self._metadata, timeout=5
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.NOT_FOUND):
                return None
            raise
        return response.account_id or None

    async def account_for_app(self, app_id: str) -> str | None:
        from realtime.auth.v1 import auth_service_pb2

        try:
            response = await self._stub.GetApp(
                auth_service_pb2.GetAppRequest(app_id=app_id), metadata=self._metadata, timeout=5
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
                return None
            raise
        return response.app.account_id or None
