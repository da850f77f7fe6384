"""Helpers shared by the auth tests (a uniquely named module: several test directories have a
`conftest.py`, so `from conftest import …` would be ambiguous)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from rtk_auth.domain.directory import Directory
from rtk_auth.domain.keyring import KeyRing
from rtk_auth.domain.keys import KeyCipher
from rtk_auth.domain.participant_tokens import ParticipantTokens
from rtk_auth.domain.webhooks import WebhookSigner
from rtk_auth.store import AuthStore
from rtk_auth.store.batch import BatchedTokenWriter
from rtkit.errors import ApiError

INTERNAL_TOKEN = "test-internal-token-" + uuid.uuid4().hex


class FakeMeetings:
    """In-memory MeetingDirectory: (app_id, meeting_id) → active?"""

    def __init__(self) -> None:
        self.active: dict[tuple[str, str], bool] = {}

    def add(self, app_id: str, active: bool = True) -> str:
        meeting_id = str(uuid.uuid4())
        self.active[(app_id, meeting_id)] = active
        return meeting_id

    async def is_active(self, app_id: str, meeting_id: str) -> bool:
        if (app_id, meeting_id) not in self.active:
            raise ApiError("MEETING_NOT_FOUND", f"No meeting with id {meeting_id}.", meetingId=meeting_id)
        return self.active[(app_id, meeting_id)]


@dataclass
class AuthDomain:
    pool: object
    store: AuthStore
    cipher: KeyCipher
    signing: KeyRing
    webhook_keys: KeyRing
    webhooks: WebhookSigner
    directory: Directory
    tokens: ParticipantTokens
    meetings: FakeMeetings


async def make_domain(pool: object, encryption_key: str = "") -> AuthDomain:
    store = AuthStore(pool)  # type: ignore[arg-type]
    cipher = KeyCipher(encryption_key)
    signing, webhook_keys = KeyRing(store, cipher, "signing"), KeyRing(store, cipher, "webhook")
    await signing.ensure()
    await webhook_keys.ensure()
    meetings = FakeMeetings()
    tokens = ParticipantTokens(
        store, signing, meetings, default_ttl=100 * 86400, max_ttl=366 * 86400, leeway=0,
        recorder=BatchedTokenWriter(store),
    )
    return AuthDomain(
        pool, store, cipher, signing, webhook_keys, WebhookSigner(webhook_keys), Directory(store), tokens, meetings
    )
