"""rtkit.batching.GroupCommit: coalescing without delay, results to the right callers, failures."""

from __future__ import annotations

import asyncio

import pytest
from rtkit.batching import GroupCommit


async def test_concurrent_items_share_flushes_and_each_caller_gets_its_result():
    batches: list[list[int]] = []

    async def flush(items: list[int]) -> list[int]:
        batches.append(items)
        await asyncio.sleep(0.005)  # a round trip
        return [item * 10 for item in items]

    commit: GroupCommit[int, int] = GroupCommit(flush, max_batch=16, max_inflight=2)
    results = await asyncio.gather(*(commit.submit(i) for i in range(100)))
    assert results == [i * 10 for i in range(100)]
    assert sorted(i for batch in batches for i in batch) == list(range(100))
    assert len(batches) < 100 and max(len(b) for b in batches) <= 16
    # Alone, an item is flushed at once, as a batch of one.
    assert await asyncio.wait_for(commit.submit(7), 1) == 70 and batches[-1] == [7]
    await commit.close()


async def test_a_failed_batch_fails_its_callers_and_the_next_batch_works():
    calls = 0

    async def flush(items: list[str]) -> list[str]:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.005)
        if calls == 1:
            raise ConnectionError("down")
        return items

    commit: GroupCommit[str, str] = GroupCommit(flush, max_inflight=1)
    first = await asyncio.gather(*(commit.submit("a") for _ in range(3)), return_exceptions=True)
    assert all(isinstance(r, ConnectionError) for r in first)
    assert await commit.submit("b") == "b"


async def test_a_cancelled_caller_does_not_lose_the_others_results():
    release = asyncio.Event()

    async def flush(items: list[int]) -> list[int]:
        await release.wait()
        return items

    commit: GroupCommit[int, int] = GroupCommit(flush, max_inflight=1)
    waiters = [asyncio.create_task(commit.submit(i)) for i in range(4)]
    await asyncio.sleep(0.01)
    waiters[0].cancel()
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await waiters[0]
    assert await asyncio.gather(*waiters[1:]) == [1, 2, 3]


async def test_a_flush_returning_the_wrong_count_is_an_error_not_a_mismatch():
    async def flush(items: list[int]) -> list[int]:
        return items[:1]

    commit: GroupCommit[int, int] = GroupCommit(flush, max_inflight=1)
    results = await asyncio.gather(*(commit.submit(i) for i in range(3)), return_exceptions=True)
    # Items queued while nothing is in flight go out as one batch; either way no caller gets
    # another caller's result.
    assert all(isinstance(r, RuntimeError) or r == i for i, r in enumerate(results))
    assert any(isinstance(r, RuntimeError) for r in results)
