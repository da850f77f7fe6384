"""Explicit wiring of the auth service."""

from __future__ import annotations

import asyncio
from pathlib import Path

from realtime.auth.v1 import auth_service_pb2, auth_service_pb2_grpc
from rtkit import clients, db
from rtkit.authz import Authorizer
from rtkit.logging import get_logger
from rtkit.server import Service

from rtk_auth.api.servicer import AuthServicer
from rtk_auth.domain.directory import Directory
from rtk_auth.domain.keyring import KeyRing
from rtk_auth.domain.keys import KeyCipher
from rtk_auth.domain.participant_tokens import ParticipantTokens
from rtk_auth.domain.webhooks import WebhookSigner
from rtk_auth.meetings import GrpcMeetingDirectory
from rtk_auth.settings import AuthSettings
from rtk_auth.store import AuthStore
from rtk_auth.store.batch import BatchedTokenWriter

SCHEMA = "auth"
MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
SERVICE_NAME = auth_service_pb2.DESCRIPTOR.services_by_name["AuthService"].full_name

log = get_logger("rtk_auth")


async def build(settings: AuthSettings) -> Service:
    service = Service("auth", settings)
    cipher = KeyCipher(settings.auth_key_encryption_key.get_secret_value())
    if not cipher.enabled:
        log.warning("key_encryption_disabled", hint="set RTK_AUTH_KEY_ENCRYPTION_KEY to encrypt private keys at rest")
    if not settings.internal_token:
        log.warning("internal_token_unset", hint="internal RPCs are refused until RTK_INTERNAL_TOKEN is set")
    pool = await db.create_pool(
        settings.database_url,
        schema=SCHEMA,
        min_size=settings.db_pool_min,
        max_size=settings.db_pool_max,
        connect_timeout=settings.db_connect_timeout,
        command_timeout=settings.db_command_timeout,
    )
    store = AuthStore(pool)
    signing_keys = KeyRing(store, cipher, "signing")
    webhook_keys = KeyRing(store, cipher, "webhook")
    meeting_channel = clients.channel(settings.meeting_addr)
    directory = Directory(store)
    token_writer = BatchedTokenWriter(store)
    tokens = ParticipantTokens(
        store,
        signing_keys,
        GrpcMeetingDirectory(meeting_channel, settings.internal_token, timeout=settings.auth_meeting_check_timeout_seconds),
        default_ttl=settings.auth_participant_token_ttl_seconds,
        max_ttl=settings.auth_participant_token_max_ttl_seconds,
        leeway=settings.auth_token_leeway_seconds,
        recorder=token_writer,
        signer_threads=settings.auth_signer_threads,
    )
    servicer = AuthServicer(
        Authorizer(directory, settings.internal_token), directory, tokens, signing_keys, WebhookSigner(webhook_keys)
    )
    service.add_servicer(auth_service_pb2_grpc.add_AuthServiceServicer_to_server, servicer, SERVICE_NAME)

    async def purge_forever() -> None:
        while True:
            await asyncio.sleep(settings.auth_token_purge_interval_seconds)
            try:
                deleted = await tokens.purge(settings.auth_token_purge_after_seconds)
                if deleted:
                    log.info("participant_tokens_purged", count=deleted)
            except Exception as exc:  # noqa: BLE001 - retried next interval
                log.warning("participant_token_purge_failed", error=str(exc))

    async def start() -> None:
        await signing_keys.ensure()
        await webhook_keys.ensure()
        log.info("keys_loaded", signing_kid=signing_keys.active.kid, webhook_kid=webhook_keys.active.kid)
        service.run_in_background(signing_keys.refresh_forever(settings.auth_key_refresh_seconds), "signing-keys")
        service.run_in_background(webhook_keys.refresh_forever(settings.auth_key_refresh_seconds), "webhook-keys")
        if settings.auth_token_purge_interval_seconds > 0:
            service.run_in_background(purge_forever(), "token-purge")

    async def stop() -> None:
        await token_writer.close()
        tokens.close()
        await meeting_channel.close()
        await db.Database(pool).close()

    service.on_start(start)
    service.on_stop(stop)
    return service
