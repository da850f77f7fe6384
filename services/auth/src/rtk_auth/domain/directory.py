"""Accounts, apps and API tokens (the tenant model), plus the first-start Bootstrap.

Also the local `rtkit.authz.AuthBackend`: the auth service authorises its own public RPCs
against its own store instead of calling itself over gRPC.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

import orjson
from rtkit.errors import ApiError, invalid_field
from rtkit.logging import get_logger

from rtk_auth.domain import api_tokens
from rtk_auth.domain.ids import is_uuid, new_id, require_name, require_uuid
from rtk_auth.domain.models import Account, ApiToken, App, Page
from rtk_auth.store import AuthStore
from rtk_auth.store.pg import ForeignKeyViolation, UniqueViolation

log = get_logger("rtk_auth.directory")

DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 1000


@dataclass(frozen=True, slots=True)
class BootstrapResult:
    account: Account
    app: App
    api_token: ApiToken | None
    secret: str
    created: bool


def _app_not_found(app_id: str) -> ApiError:
    return ApiError("APP_NOT_FOUND", f"No app with id {app_id}.", appId=app_id)


def _account_not_found(account_id: str) -> ApiError:
    return ApiError("ACCOUNT_NOT_FOUND", f"No account with id {account_id}.", accountId=account_id)


class Directory:
    def __init__(self, store: AuthStore) -> None:
        self._store = store

    # --- rtkit.authz.AuthBackend ----------------------------------------------------------

    async def account_for_api_token(self, secret: str) -> str | None:
        token = await self.authenticate_api_token(secret)
        return token.account_id if token else None

    async def account_for_app(self, app_id: str) -> str | None:
        if not is_uuid(app_id):
            return None
        return await self._store.account_of_app(app_id)

    # --- accounts -------------------------------------------------------------------------

    async def create_account(self, name: str) -> Account:
        account = await self._store.insert_account(new_id(), require_name("name", name))
        log.info("account_created", account_id=account.id)
        return account

    # --- apps -----------------------------------------------------------------------------

    async def create_app(self, account_id: str, name: str) -> App:
        account_id = require_uuid("account_id", account_id)
        name = require_name("name", name)
        try:
            app = await self._store.insert_app(new_id(), account_id, name)
        except UniqueViolation:
            raise ApiError(
                "APP_NAME_TAKEN", f"An app named {name!r} already exists in this account.", appName=name
            ) from None
        except ForeignKeyViolation:
            raise _account_not_found(account_id) from None
        log.info("app_created", app_id=app.id, account_id=account_id)
        return app

    async def get_app(self, app_id: str, account_id: str | None) -> App:
        """The app, if it exists and (when `account_id` is given) belongs to that account."""
        if not is_uuid(app_id):
            raise _app_not_found(app_id)
        app = await self._store.get_app(app_id)
        if app is None or (account_id is not None and app.account_id != account_id):
            raise _app_not_found(app_id)
        return app

    async def list_apps(
        self,
        account_id: str | None,
        *,
        page_size: int = 0,
        page_token: str = "",
        skip: int = 0,
        search: str = "",
        descending: bool = True,
    ) -> Page:
        if account_id is not None:
            account_id = require_uuid("account_id", account_id)
        if page_size < 0:
            raise invalid_field("page_size", "must not be negative")
        if skip < 0:
            raise invalid_field("skip", "must not be negative")
        limit = min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        search = search.strip()[:255]
        fingerprint = _filter_fingerprint(account_id, search, descending)
        offset = _decode_page_token(page_token, fingerprint) if page_token else skip
        apps, total = await self._store.list_apps(account_id, search, descending, offset, limit)
        following = offset + len(apps)
        next_token = _encode_page_token(following, fingerprint) if apps and following < total else ""
        return Page(apps=apps, next_page_token=next_token, total_size=total)

    # --- API tokens -----------------------------------------------------------------------

    async def create_api_token(self, account_id: str, name: str) -> tuple[ApiToken, str]:
        account_id = require_uuid("account_id", account_id)
        name = require_name("name", name, default="default")
        secret = api_tokens.new_secret()
        try:
            token = await self._store.insert_api_token(new_id(), account_id, name, api_tokens.hash_secret(secret))
        except ForeignKeyViolation:
            raise _account_not_found(account_id) from None
        log.info("api_token_created", account_id=account_id, token_id=token.id)
        return token, secret

    async def revoke_api_token(self, token_id: str) -> ApiToken:
        if not is_uuid(token_id):
            raise invalid_field("token_id", "must be a UUID")
        token = await self._store.revoke_api_token(token_id)
        if token is None:
            raise ApiError("API_CREDENTIALS_INVALID", f"No API token with id {token_id}.", tokenId=token_id)
        log.info("api_token_revoked", account_id=token.account_id, token_id=token.id)
        return token

    async def authenticate_api_token(self, secret: str) -> ApiToken | None:
        secret = secret.strip()
        if not secret or len(secret) > api_tokens.MAX_SECRET_LENGTH:
            return None
        found = await self._store.find_api_token(api_tokens.hash_secret(secret))
        if found is None:
            return None
        token, stored_hash = found
        if not api_tokens.matches(secret, stored_hash) or token.revoke_time is not None:
            return None
        return token

    # --- first start ----------------------------------------------------------------------

    async def bootstrap(self, account_name: str, app_name: str) -> BootstrapResult:
        account_name = require_name("account_name", account_name, default="default")
        app_name = require_name("app_name", app_name, default="default")
        async with self._store.transaction() as tx:
            await tx.lock("bootstrap")
            account = await tx.oldest_account()
            if account is not None:
                app = await tx.oldest_app(account.id)
                if app is None:
                    app = await tx.insert_app(new_id(), account.id, app_name)
                return BootstrapResult(account=account, app=app, api_token=None, secret="", created=False)
            account = await tx.insert_account(new_id(), account_name)
            app = await tx.insert_app(new_id(), account.id, app_name)
            secret = api_tokens.new_secret()
            token = await tx.insert_api_token(new_id(), account.id, "bootstrap", api_tokens.hash_secret(secret))
        log.info("bootstrapped", account_id=account.id, app_id=app.id, token_id=token.id)
        return BootstrapResult(account=account, app=app, api_token=token, secret=secret, created=True)


def _filter_fingerprint(account_id: str | None, search: str, descending: bool) -> str:
    raw = f"{account_id or '*'}\x00{search}\x00{int(descending)}".encode()
    return hashlib.sha256(raw).hexdigest()[:16]


def _encode_page_token(offset: int, fingerprint: str) -> str:
    return base64.urlsafe_b64encode(orjson.dumps({"o": offset, "f": fingerprint})).rstrip(b"=").decode()


def _decode_page_token(token: str, fingerprint: str) -> int:
    try:
        data = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        offset = data["o"]
        if not isinstance(offset, int) or offset < 0 or data.get("f") != fingerprint:
            raise ValueError
    except (ValueError, KeyError, TypeError, orjson.JSONDecodeError):
        raise invalid_field("page_token", "invalid, or issued for a different filter") from None
    return offset
