"""The delivery worker: claims due deliveries from Postgres, signs and POSTs them, records the outcome.

Request (reference §6.2): `POST <webhook url>` with the recorded body bytes and the headers

    Content-Type:   application/json
    rtk-signature:  base64 RSASSA-PKCS1-v1_5 / SHA-256 over the exact body bytes (auth service key)
    rtk-uuid:       the delivery id = uuid5(webhook id, event id): identical on every retry
    rtk-webhook-id: the webhook id

Outcomes (reference §6.3):

* 2xx → DELIVERED.
* 5xx, connection errors, timeouts (`RTK_WEBHOOK_TIMEOUT_SECONDS`, default 10 s), signing
  failures → retried. Redirects are not followed.
* any other status below 500 (1xx/3xx/4xx, 429 included) → FAILED, never retried.
* the webhook was deleted or disabled meanwhile → CANCELLED.

Retry schedule: after the n-th failed attempt the next one is due after
`min(base · 2^(n-1), max_delay) × U(1 - jitter, 1 + jitter)`; with the defaults (base 1 s,
max_delay 1 h, jitter 0.2) that is ≈ 1 s, 2 s, 4 s, 8 s, … 2048 s (~34 min), then hourly. A delivery
is FAILED after `RTK_WEBHOOK_MAX_ATTEMPTS` attempts (default 30, ≈ 18 h) or once the next attempt
would fall more than `RTK_WEBHOOK_MAX_AGE_SECONDS` (default 24 h) after the delivery was recorded.

Concurrency and crashes: rows are claimed with `FOR UPDATE SKIP LOCKED` and leased by moving
their `next_attempt_time` ahead (`RTK_WEBHOOK_LEASE_SECONDS`, default 2 × timeout + 10 s = 30 s);
a worker records an outcome only while its
`claim_id` still holds the row. If a process dies mid-POST its rows come back when the lease ends,
so a delivery can reach the receiver twice (at least once; de-duplicate on `rtk-uuid`). On a
graceful stop in-flight POSTs get a short grace, then unfinished claims are released at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import random
import socket
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver
from prometheus_client import Counter, Histogram
from rtkit.db import Database
from rtkit.logging import get_logger

from rtk_meeting.webhooks import store
from rtk_meeting.webhooks.auth import Signer
from rtk_meeting.webhooks.domain import is_private_host
from rtk_meeting.webhooks.settings import WebhookSettings

log = get_logger("rtk_meeting.webhooks.delivery")

ATTEMPTS = Counter("rtk_webhook_attempts_total", "Webhook POST attempts by outcome", ["event", "outcome"])
FINISHED = Counter("rtk_webhook_deliveries_total", "Webhook deliveries finished, by final status", ["event", "status"])
LATENCY = Histogram(
    "rtk_webhook_attempt_seconds", "Duration of one webhook POST",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)

USER_AGENT = "RealtimeKit-Webhooks/1.0 (self-hosted)"
_ERROR_MAX = 500


class DestinationNotAllowed(Exception):
    """The URL resolves only to loopback / private / link-local addresses and those are refused."""


class _PublicOnlyResolver(AbstractResolver):
    """Resolves like aiohttp's default resolver, then drops non-public addresses (SSRF guard)."""

    def __init__(self) -> None:
        self._inner = aiohttp.DefaultResolver()

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> list[Any]:
        results = await self._inner.resolve(host, port, family)
        public = [r for r in results if not is_private_host(r["host"])]
        if not public:
            raise DestinationNotAllowed(f"{host} resolves only to non-public addresses")
        return public

    async def close(self) -> None:
        await self._inner.close()


@dataclass(frozen=True, slots=True)
class Outcome:
    status: str  # DELIVERED, FAILED, CANCELLED, or PENDING (retry)
    status_code: int | None = None
    error: str | None = None


def backoff(attempt: int, settings: WebhookSettings, rng: random.Random | None = None) -> float:
    """Delay before the attempt that follows failed attempt number `attempt` (1-based)."""
    base = min(settings.webhook_retry_base_seconds * (2 ** min(attempt - 1, 60)),
               settings.webhook_retry_max_delay_seconds)
    j = settings.webhook_retry_jitter
    return base * (rng or random).uniform(1 - j, 1 + j)


def classify(status_code: int) -> str:
    """HTTP status → DELIVERED (2xx), PENDING (5xx: retry) or FAILED (anything else, no retry)."""
    if 200 <= status_code < 300:
        return store.DELIVERED
    if status_code >= 500:
        return store.PENDING
    return store.FAILED


class DeliveryWorker:
    def __init__(self, db: Database, signer: Signer, settings: WebhookSettings) -> None:
        self._db = db
        self._signer = signer
        self._settings = settings
        self._wakeup = asyncio.Event()
        self._inflight: dict[asyncio.Task[None], tuple[uuid.UUID, uuid.UUID]] = {}
        self._loop_task: asyncio.Task[None] | None = None
        self._purge_task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self._stopping = False

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(
            limit=self._settings.webhook_concurrency * 2,
            resolver=None if self._settings.webhook_allow_private_urls else _PublicOnlyResolver(),
            ttl_dns_cache=60,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=self._settings.webhook_timeout_seconds),
            headers={"User-Agent": USER_AGENT},
            auto_decompress=False,
        )
        self._loop_task = asyncio.create_task(self._run(), name="webhook-delivery")
        self._purge_task = asyncio.create_task(self._purge_forever(), name="webhook-purge")

    def wake(self) -> None:
        """New deliveries were recorded: look now instead of at the next poll."""
        self._wakeup.set()

    async def stop(self, grace: float = 5.0) -> None:
        """Stop claiming; give in-flight POSTs `grace` seconds; release what is left."""
        self._stopping = True
        self._wakeup.set()
        for task in (self._loop_task, self._purge_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if self._inflight:
            await asyncio.wait(list(self._inflight), timeout=grace)
        leftover = dict(self._inflight)
        for task in leftover:
            task.cancel()
        if leftover:
            await asyncio.gather(*leftover, return_exceptions=True)
            try:
                await store.release(self._db.pool, list(leftover.values()))
                log.info("webhook_deliveries_released", count=len(leftover))
            except Exception as exc:  # noqa: BLE001 - their leases expire instead
                log.warning("webhook_release_failed", error=str(exc))
        if self._session is not None:
            await self._session.close()

    # --- claiming -------------------------------------------------------------------------

    async def _run(self) -> None:
        s = self._settings
        while not self._stopping:
            free = s.webhook_concurrency - len(self._inflight)
            claimed: list[store.Claimed] = []
            if free > 0:
                self._wakeup.clear()
                claim_id = uuid.uuid4()
                try:
                    claimed = await store.claim(
                        self._db.pool, limit=free, lease_seconds=s.lease_seconds(), claim_id=claim_id
                    )
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # noqa: BLE001 - database down: keep trying
                    log.warning("webhook_claim_failed", error=str(exc))
                    await self._sleep(s.webhook_poll_seconds)
                    continue
                for item in claimed:
                    task = asyncio.create_task(self._deliver(item, claim_id))
                    self._inflight[task] = (item.id, claim_id)
                    task.add_done_callback(self._done)
                if len(claimed) == free:
                    continue  # there may be more due right now
            await self._sleep(await self._idle_seconds() if free > 0 else s.webhook_poll_seconds)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._inflight.pop(task, None)
        self._wakeup.set()  # a slot is free

    async def _idle_seconds(self) -> float:
        poll = self._settings.webhook_poll_seconds
        try:
            due = await store.seconds_until_due(self._db.pool)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001
            return poll
        if due is None:
            return poll
        return min(poll, max(due, 0.01))

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._wakeup.wait(), timeout=seconds)

    async def _purge_forever(self) -> None:
        while True:
            try:
                removed = await store.purge(self._db.pool, older_than_days=self._settings.webhook_retention_days)
                if removed:
                    log.info("webhook_deliveries_purged", count=removed)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001
                log.warning("webhook_purge_failed", error=str(exc))
            await asyncio.sleep(3600)

    # --- one attempt ----------------------------------------------------------------------

    async def _deliver(self, item: store.Claimed, claim_id: uuid.UUID) -> None:
        try:
            outcome = await self.attempt(item)
            await self._record(item, claim_id, outcome)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - the lease expires and the delivery comes back
            log.exception("webhook_delivery_crashed", delivery_id=str(item.id), app_id=item.app_id)

    async def attempt(self, item: store.Claimed) -> Outcome:
        """POST once and classify the result (no database access)."""
        if item.url is None:
            return Outcome(store.CANCELLED, error="the webhook was deleted or disabled")
        assert self._session is not None
        host = urlsplit(item.url).hostname or ""
        if not self._settings.webhook_allow_private_urls and is_private_host(host):
            return Outcome(store.FAILED, error="destination address not allowed")
        try:
            signature = await self._signer.sign(item.body)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - auth service unavailable: try again later
            return Outcome(store.PENDING, error=f"signing failed: {_short(exc)}")
        headers = {
            "Content-Type": "application/json",
            "rtk-signature": signature,
            "rtk-uuid": str(item.id),
            "rtk-webhook-id": str(item.webhook_id),
        }
        started = asyncio.get_running_loop().time()
        try:
            async with self._session.post(item.url, data=item.body, headers=headers, allow_redirects=False) as resp:
                code = resp.status
                try:
                    text = (await resp.content.read(_ERROR_MAX)).decode("utf-8", "replace")
                except (TimeoutError, aiohttp.ClientError):
                    text = ""
        except DestinationNotAllowed as exc:
            return Outcome(store.FAILED, error=_short(exc))
        except TimeoutError:
            return Outcome(store.PENDING, error=f"timed out after {self._settings.webhook_timeout_seconds:g}s")
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            if isinstance(exc, aiohttp.InvalidURL):
                return Outcome(store.FAILED, error=_short(exc))
            return Outcome(store.PENDING, error=f"network error: {_short(exc)}")
        finally:
            LATENCY.observe(asyncio.get_running_loop().time() - started)
        status = classify(code)
        return Outcome(status, code, None if status == store.DELIVERED else f"HTTP {code}: {text[:200]}")

    async def _record(self, item: store.Claimed, claim_id: uuid.UUID, outcome: Outcome) -> None:
        s = self._settings
        status, error = outcome.status, outcome.error
        delay = 0.0
        if status == store.PENDING:
            delay = backoff(item.attempts, s)
            age = (dt.datetime.now(dt.UTC) - item.create_time).total_seconds()
            if item.attempts >= s.webhook_max_attempts:
                status, error = store.FAILED, f"gave up after {item.attempts} attempts; last: {error}"
            elif age + delay > s.webhook_max_age_seconds:
                status, error = store.FAILED, f"gave up after {age:.0f}s; last: {error}"
        ATTEMPTS.labels(item.event, "delivered" if status == store.DELIVERED else
                        "retry" if status == store.PENDING else status.lower()).inc()
        if status == store.PENDING:
            kept = await store.retry_later(self._db.pool, item.id, claim_id, delay_seconds=delay,
                                           status_code=outcome.status_code, error=error)
            log.info("webhook_attempt_failed", delivery_id=str(item.id), app_id=item.app_id,
                     webhook_id=str(item.webhook_id), webhook_event=item.event, attempt=item.attempts,
                     status_code=outcome.status_code, error=error, retry_in=round(delay, 2))
        else:
            kept = await store.finish(self._db.pool, item.id, claim_id, status=status,
                                      status_code=outcome.status_code, error=error)
            FINISHED.labels(item.event, status).inc()
            level = log.info if status in (store.DELIVERED, store.CANCELLED) else log.warning
            level("webhook_delivery_finished", delivery_id=str(item.id), app_id=item.app_id,
                  webhook_id=str(item.webhook_id), webhook_event=item.event, status=status, attempts=item.attempts,
                  status_code=outcome.status_code, error=error)
        if not kept:
            log.warning("webhook_lease_lost", delivery_id=str(item.id), app_id=item.app_id)


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text[:_ERROR_MAX]
