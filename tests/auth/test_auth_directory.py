"""Accounts, apps, API tokens and Bootstrap against real Postgres (domain level)."""

from __future__ import annotations

import asyncio
import hashlib

import pytest
from rtkit.errors import ApiError


async def _all_rows_as_text(pool) -> str:
    tables = await pool.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'auth'")
    chunks = []
    for t in tables:
        rows = await pool.fetch(f'SELECT t::text AS row FROM auth."{t["tablename"]}" t')
        chunks.extend(r["row"] for r in rows)
    return "\n".join(chunks)


async def test_api_token_plaintext_never_stored(auth):
    account = await auth.directory.create_account("acme")
    token, secret = await auth.directory.create_api_token(account.id, "ci")
    dump = await _all_rows_as_text(auth.pool)
    assert secret not in dump
    assert secret.removeprefix("rtk_") not in dump
    assert hashlib.sha256(secret.encode()).hexdigest() in dump  # bytea renders as \x<hex>
    assert token.id in dump


async def test_authenticate_and_revoke_api_token(auth):
    account = await auth.directory.create_account("acme")
    token, secret = await auth.directory.create_api_token(account.id, "")
    assert token.name == "default"
    found = await auth.directory.authenticate_api_token(secret)
    assert found is not None and found.account_id == account.id and found.id == token.id
    assert await auth.directory.account_for_api_token(secret) == account.id
    assert await auth.directory.authenticate_api_token(secret + "x") is None
    assert await auth.directory.authenticate_api_token("") is None
    assert await auth.directory.authenticate_api_token("x" * 10_000) is None
    revoked = await auth.directory.revoke_api_token(token.id)
    assert revoked.revoke_time is not None
    assert await auth.directory.authenticate_api_token(secret) is None
    again = await auth.directory.revoke_api_token(token.id)  # idempotent: first revoke time kept
    assert again.revoke_time == revoked.revoke_time
    with pytest.raises(ApiError) as excinfo:
        await auth.directory.revoke_api_token("00000000-0000-0000-0000-000000000000")
    assert excinfo.value.reason == "API_CREDENTIALS_INVALID"


async def test_api_token_for_unknown_account(auth):
    with pytest.raises(ApiError) as excinfo:
        await auth.directory.create_api_token("00000000-0000-0000-0000-000000000000", "x")
    assert excinfo.value.reason == "ACCOUNT_NOT_FOUND"
    with pytest.raises(ApiError) as excinfo:
        await auth.directory.create_api_token("not-a-uuid", "x")
    assert excinfo.value.reason == "INVALID_FIELD"


async def test_app_names_are_unique_per_account(auth):
    a = await auth.directory.create_account("a")
    b = await auth.directory.create_account("b")
    await auth.directory.create_app(a.id, "prod")
    with pytest.raises(ApiError) as excinfo:
        await auth.directory.create_app(a.id, "prod")
    assert excinfo.value.reason == "APP_NAME_TAKEN"
    await auth.directory.create_app(b.id, "prod")  # another account may reuse the name
    with pytest.raises(ApiError) as excinfo:
        await auth.directory.create_app(a.id, "   ")
    assert excinfo.value.reason == "INVALID_FIELD"
    with pytest.raises(ApiError) as excinfo:
        await auth.directory.create_app(a.id, "x" * 256)
    assert excinfo.value.reason == "INVALID_FIELD"
    with pytest.raises(ApiError) as excinfo:
        await auth.directory.create_app("00000000-0000-0000-0000-000000000000", "x")
    assert excinfo.value.reason == "ACCOUNT_NOT_FOUND"


async def test_get_app_is_scoped_to_the_account(auth):
    a = await auth.directory.create_account("a")
    b = await auth.directory.create_account("b")
    app_b = await auth.directory.create_app(b.id, "theirs")
    assert (await auth.directory.get_app(app_b.id, b.id)).account_id == b.id
    assert (await auth.directory.get_app(app_b.id, None)).id == app_b.id  # internal callers
    for app_id, account in [(app_b.id, a.id), ("00000000-0000-0000-0000-000000000000", None), ("junk", None)]:
        with pytest.raises(ApiError) as excinfo:
            await auth.directory.get_app(app_id, account)
        assert excinfo.value.reason == "APP_NOT_FOUND"
    assert await auth.directory.account_for_app(app_b.id) == b.id
    assert await auth.directory.account_for_app("junk") is None


async def test_list_apps_paging_search_order_and_isolation(auth):
    a = await auth.directory.create_account("a")
    b = await auth.directory.create_account("b")
    names = [f"app-{i:02d}" for i in range(7)]
    for name in names:
        await auth.directory.create_app(a.id, name)
    await auth.directory.create_app(b.id, "app-of-b")

    page = await auth.directory.list_apps(a.id, page_size=3, descending=False)
    assert [x.name for x in page.apps] == names[:3] and page.total_size == 7 and page.next_page_token
    seen = [x.name for x in page.apps]
    while page.next_page_token:
        page = await auth.directory.list_apps(a.id, page_size=3, page_token=page.next_page_token, descending=False)
        seen += [x.name for x in page.apps]
    assert seen == names

    newest_first = await auth.directory.list_apps(a.id, page_size=100)
    assert [x.name for x in newest_first.apps] == names[::-1] and not newest_first.next_page_token

    skipped = await auth.directory.list_apps(a.id, page_size=2, skip=6, descending=False)
    assert [x.name for x in skipped.apps] == ["app-06"] and skipped.total_size == 7

    found = await auth.directory.list_apps(a.id, search="APP-0%")  # literal, case-insensitive
    assert found.apps == [] and found.total_size == 0
    found = await auth.directory.list_apps(a.id, search="P-03")
    assert [x.name for x in found.apps] == ["app-03"]

    only_b = await auth.directory.list_apps(b.id)
    assert [x.name for x in only_b.apps] == ["app-of-b"] and only_b.total_size == 1
    everything = await auth.directory.list_apps(None, page_size=100)
    assert everything.total_size == 8

    with pytest.raises(ApiError) as excinfo:  # a token minted for another filter
        await auth.directory.list_apps(b.id, page_token=(await auth.directory.list_apps(a.id, page_size=1)).next_page_token)
    assert excinfo.value.reason == "INVALID_FIELD"
    for kwargs in ({"page_token": "garbage"}, {"page_size": -1}, {"skip": -1}):
        with pytest.raises(ApiError) as excinfo:
            await auth.directory.list_apps(a.id, **kwargs)
        assert excinfo.value.reason == "INVALID_FIELD"


async def test_bootstrap_creates_once(auth):
    results = await asyncio.gather(*(auth.directory.bootstrap("default", "default") for _ in range(3)))
    created = [r for r in results if r.created]
    assert len(created) == 1 and created[0].secret.startswith("rtk_") and created[0].api_token is not None
    assert {r.account.id for r in results} == {created[0].account.id}
    assert {r.app.id for r in results} == {created[0].app.id}
    assert all(r.secret == "" for r in results if not r.created)
    assert await auth.directory.account_for_api_token(created[0].secret) == created[0].account.id
    later = await auth.directory.bootstrap("other", "other")
    assert not later.created and later.account.id == created[0].account.id and later.app.name == "default"
