import asyncio

import asyncpg
import pytest
from rtkit import db


async def test_migrations_apply_once_in_order_and_detect_edits(database_url, tmp_path):
    (tmp_path / "0001_init.sql").write_text("CREATE TABLE things (id int PRIMARY KEY);")
    (tmp_path / "0002_more.sql").write_text("ALTER TABLE things ADD COLUMN name text;")
    assert await db.migrate(database_url, "demo", tmp_path) == ["0001_init", "0002_more"]
    assert await db.migrate(database_url, "demo", tmp_path) == []

    conn = await asyncpg.connect(database_url)
    try:
        cols = await conn.fetch(
            "SELECT column_name FROM information_schema.columns WHERE table_schema='demo' AND table_name='things'"
        )
        assert {c["column_name"] for c in cols} == {"id", "name"}
    finally:
        await conn.close()

    (tmp_path / "0001_init.sql").write_text("CREATE TABLE things (id bigint PRIMARY KEY);")
    with pytest.raises(RuntimeError, match="changed after it was applied"):
        await db.migrate(database_url, "demo", tmp_path)


async def test_concurrent_migrators_do_not_race(database_url, tmp_path):
    (tmp_path / "0001_init.sql").write_text("CREATE TABLE once (id int PRIMARY KEY); INSERT INTO once VALUES (1);")
    results = await asyncio.gather(*(db.migrate(database_url, "race", tmp_path) for _ in range(4)))
    assert sorted(len(r) for r in results) == [0, 0, 0, 1]


async def test_failed_migration_leaves_nothing_half_applied(database_url, tmp_path):
    (tmp_path / "0001_bad.sql").write_text("CREATE TABLE half (id int); SELECT no_such_function();")
    with pytest.raises(asyncpg.PostgresError):
        await db.migrate(database_url, "broken", tmp_path)
    conn = await asyncpg.connect(database_url)
    try:
        assert await conn.fetchval("SELECT to_regclass('broken.half')") is None
        assert await conn.fetchval("SELECT count(*) FROM broken.schema_migrations") == 0
    finally:
        await conn.close()


def test_migration_names_are_versioned(tmp_path):
    (tmp_path / "init.sql").write_text("SELECT 1;")
    with pytest.raises(ValueError):
        db.discover(tmp_path)


async def test_pool_uses_the_service_schema(database_url, tmp_path):
    (tmp_path / "0001_init.sql").write_text("CREATE TABLE widgets (id int);")
    await db.migrate(database_url, "shop", tmp_path)
    pool = await db.create_pool(database_url, schema="shop", min_size=1, max_size=2)
    try:
        database = db.Database(pool)
        await database.execute("INSERT INTO widgets VALUES (7)")
        assert await database.fetchval("SELECT id FROM widgets") == 7
    finally:
        await database.close()
