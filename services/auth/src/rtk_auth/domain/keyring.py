"""Signing keys held in memory.

Keys live in Postgres (`auth.signing_keys`, `auth.webhook_keys`); each replica loads them at
start, re-reads them every `RTK_AUTH_KEY_REFRESH_SECONDS` (so a rotation or retirement done
through another replica propagates within that interval) and immediately when a token names an
unknown `kid`. Private keys are parsed once and kept as key objects: signing costs one RSA
operation and no I/O. Only the ACTIVE key's private half is decrypted.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import rsa
from rtkit.errors import ApiError, invalid_field
from rtkit.logging import get_logger

from rtk_auth.domain import keys as keylib
from rtk_auth.domain.models import KeyState, StoredKey
from rtk_auth.store import AuthStore

log = get_logger("rtk_auth.keyring")

_MISS_RELOAD_INTERVAL = 1.0  # at most one reload per second triggered by unknown kids


@dataclass(frozen=True, slots=True)
class ActiveKey:
    kid: str
    private_key: rsa.RSAPrivateKey
    public_key_pem: str


class KeyRing:
    """The keys of one kind ("signing" for participant tokens, "webhook" for webhook bodies)."""

    def __init__(self, store: AuthStore, cipher: keylib.KeyCipher, kind: str) -> None:
        self._store, self._cipher, self.kind = store, cipher, kind
        self._records: list[StoredKey] = []
        self._public: dict[str, rsa.RSAPublicKey] = {}  # verifying keys (ACTIVE + VERIFY_ONLY)
        self._parsed_public: dict[tuple[str, str], rsa.RSAPublicKey] = {}
        self._active: ActiveKey | None = None
        self._lock = asyncio.Lock()
        self._last_miss_reload = 0.0

    # --- lifecycle ----------------------------------------------------------------------------

    async def ensure(self) -> None:
        """First start: create a key when none is active; re-seal keys under the current KEK; load."""
        async with self._store.transaction() as tx:
            await tx.lock(f"{self.kind}-keys")
            records = await tx.list_keys(self.kind)
            for record in records:  # encrypt plaintext keys / re-encrypt under the new primary KEK
                if self._cipher.needs_reseal(record.private_key):
                    pem = self._cipher.open(record.private_key)
                    await tx.replace_private_key(self.kind, record.kid, self._cipher.seal(pem))
                    log.info("key_resealed", kind=self.kind, kid=record.kid)
                else:
                    self._cipher.open(record.private_key)  # fail at start, not on first use
            if not any(r.state is KeyState.ACTIVE for r in records):
                created = await self._create(tx)
                log.info("key_created", kind=self.kind, kid=created.kid)
        await self.reload()

    async def reload(self) -> None:
        async with self._lock:
            records = await self._store.list_keys(self.kind)
            public: dict[str, rsa.RSAPublicKey] = {}
            active: ActiveKey | None = None
            for record in records:
                if record.state is KeyState.RETIRED:
                    continue
                cache_key = (record.kid, record.public_key_pem)
                if cache_key not in self._parsed_public:
                    self._parsed_public[cache_key] = keylib.load_public_pem(record.public_key_pem)
                public[record.kid] = self._parsed_public[cache_key]
                if record.state is KeyState.ACTIVE:
                    if self._active is not None and self._active.kid == record.kid:
                        active = self._active
                    else:
                        pem = self._cipher.open(record.private_key)
                        active = ActiveKey(record.kid, keylib.load_private_pem(pem), record.public_key_pem)
            self._records, self._public = records, public
            if active is not None:
                self._active = active
            elif self._active is not None:
                log.error("no_active_key", kind=self.kind)  # keep signing with the last known key

    async def refresh_forever(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.reload()
            except Exception as exc:  # noqa: BLE001 - keep serving with the keys already loaded
                log.warning("key_reload_failed", kind=self.kind, error=str(exc))

    # --- use ----------------------------------------------------------------------------------

    @property
    def active(self) -> ActiveKey:
        if self._active is None:
            raise ApiError("INTERNAL", f"No active {self.kind} key is loaded.")
        return self._active

    async def verification_key(self, kid: str) -> rsa.RSAPublicKey | None:
        """The public key for `kid` unless it is unknown or retired."""
        key = self._public.get(kid)
        if key is None and time.monotonic() - self._last_miss_reload >= _MISS_RELOAD_INTERVAL:
            self._last_miss_reload = time.monotonic()
            await self.reload()
            key = self._public.get(kid)
        return key

    def records(self) -> list[StoredKey]:
        return list(self._records)

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        """Public keys of every non-retired key, newest first."""
        return {"keys": [keylib.rsa_jwk(r.kid, self._public[r.kid], r.algorithm) for r in self._records if r.kid in self._public]}

    # --- administration -----------------------------------------------------------------------

    async def rotate(self) -> StoredKey:
        async with self._store.transaction() as tx:
            await tx.lock(f"{self.kind}-keys")
            if self.kind == "signing":
                await tx.demote_active_signing_key()
            else:
                for record in await tx.list_keys(self.kind):
                    if record.state is KeyState.ACTIVE:
                        await tx.retire_key(self.kind, record.kid)
            created = await self._create(tx)
        log.info("key_rotated", kind=self.kind, kid=created.kid)
        await self.reload()
        return created

    async def retire(self, kid: str) -> StoredKey:
        async with self._store.transaction() as tx:
            await tx.lock(f"{self.kind}-keys")
            record = await tx.get_key(self.kind, kid)
            if record is None:
                raise ApiError("SIGNING_KEY_NOT_FOUND", f"No signing key with kid {kid}.", kid=kid)
            if record.state is KeyState.ACTIVE:
                raise invalid_field("kid", "the active key cannot be retired; rotate first")
            retired = await tx.retire_key(self.kind, kid)
        assert retired is not None
        log.info("key_retired", kind=self.kind, kid=kid)
        await self.reload()
        return retired

    async def _create(self, tx: AuthStore) -> StoredKey:
        private = await asyncio.to_thread(keylib.generate_rsa_key)
        public = private.public_key()
        kid = keylib.jwk_thumbprint(public)
        return await tx.insert_key(self.kind, kid, keylib.public_pem(public), self._cipher.seal(keylib.private_pem(private)))
