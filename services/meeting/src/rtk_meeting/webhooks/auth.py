"""What the webhooks need from the auth service: signatures and app names (internal token)."""

from __future__ import annotations

import time
from typing import Protocol

import grpc
from realtime.auth.v1 import auth_service_pb2, auth_service_pb2_grpc
from rtkit.clients import internal_metadata


class Signer(Protocol):
    async def sign(self, body: bytes) -> str:
        """Base64 RSASSA-PKCS1-v1_5 / SHA-256 signature of `body` (the `rtk-signature` header)."""
        ...


class AppDirectory(Protocol):
    async def app_name(self, app_id: str) -> str:
        """The app's name ("" when the app does not exist); raises when the auth service is down."""
        ...


class GrpcSigner:
    """AuthService.SignWebhookPayload: the private key never leaves the auth service."""

    def __init__(self, channel: grpc.aio.Channel, internal_token: str, *, timeout: float = 5.0) -> None:
        self._stub = auth_service_pb2_grpc.AuthServiceStub(channel)
        self._metadata = internal_metadata(internal_token)
        self._timeout = timeout

    async def sign(self, body: bytes) -> str:
        response = await self._stub.SignWebhookPayload(
            auth_service_pb2.SignWebhookPayloadRequest(body=body), metadata=self._metadata, timeout=self._timeout
        )
        return response.signature


class GrpcAppDirectory:
    """AuthService.GetApp with a small TTL cache (app names change rarely; apps are create-only)."""

    def __init__(self, channel: grpc.aio.Channel, internal_token: str, *, ttl_seconds: float = 300.0,
                 timeout: float = 5.0, max_entries: int = 10_000) -> None:
        self._stub = auth_service_pb2_grpc.AuthServiceStub(channel)
        self._metadata = internal_metadata(internal_token)
        self._ttl, self._timeout, self._max = ttl_seconds, timeout, max_entries
        self._cache: dict[str, tuple[float, str]] = {}

    async def app_name(self, app_id: str) -> str:
        hit = self._cache.get(app_id)
        now = time.monotonic()
        if hit is not None and hit[0] > now:
            return hit[1]
        try:
            response = await self._stub.GetApp(
                auth_service_pb2.GetAppRequest(app_id=app_id), metadata=self._metadata, timeout=self._timeout
            )
            name = response.app.name
            ttl = self._ttl
        except grpc.aio.AioRpcError as exc:
            if exc.code() not in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
                raise
            name, ttl = "", min(self._ttl, 30.0)
        if len(self._cache) >= self._max:
            self._cache.clear()
        self._cache[app_id] = (now + ttl, name)
        return name
