"""rtkit.batching.GroupCommit: coalescing without delay, results to the right callers, failures, and
the trace of a shared flush."""

from __future__ import annotations

import asyncio
import random

import pytest
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags
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


def _unsampled_span() -> NonRecordingSpan:
    return NonRecordingSpan(SpanContext(trace_id=random.getrandbits(128), span_id=random.getrandbits(64),
                                        is_remote=True, trace_flags=TraceFlags(TraceFlags.DEFAULT)))


async def test_a_shared_flush_is_traced_from_every_callers_trace(exporter):
    tracer = trace.get_tracer("test")
    inside: list[trace.SpanContext] = []

    async def flush(items: list[str]) -> list[str]:
        inside.append(trace.get_current_span().get_span_context())
        await asyncio.sleep(0.005)
        return items

    commit: GroupCommit[str, str] = GroupCommit(flush, max_inflight=1, name="adder")

    async def caller(name: str) -> trace.SpanContext:
        with tracer.start_as_current_span(name) as span:
            assert await commit.submit(name) == name
            return span.get_span_context()

    first, second, third = await asyncio.gather(caller("a"), caller("b"), caller("c"))
    (flush_span,) = [s for s in exporter.get_finished_spans() if s.name == "adder flush"]
    # The shared call belongs to the first caller's trace and links to the other two ...
    assert flush_span.parent.span_id == first.span_id and flush_span.context.trace_id == first.trace_id
    assert {link.context.span_id for link in flush_span.links} == {second.span_id, third.span_id}
    assert flush_span.attributes["rtk.batch.size"] == 3
    assert inside == [flush_span.context]  # the flush's own work (its gRPC call) is under it
    # ... and the other callers' spans link to it, so each request's trace leads to the work.
    callers = {s.name: s for s in exporter.get_finished_spans() if s.name in "abc"}
    assert [link.context.span_id for link in callers["b"].links] == [flush_span.context.span_id]
    assert [link.context.span_id for link in callers["c"].links] == [flush_span.context.span_id]
    assert not callers["a"].links


async def test_a_later_flush_is_not_filed_under_an_earlier_caller(exporter):
    tracer = trace.get_tracer("test")
    release = asyncio.Event()

    async def flush(items: list[str]) -> list[str]:
        if items == ["a"]:
            await release.wait()
        return items

    commit: GroupCommit[str, str] = GroupCommit(flush, max_inflight=1, name="writer")
    with tracer.start_as_current_span("a") as a:
        first = asyncio.create_task(commit.submit("a"))
        await asyncio.sleep(0.01)  # a's flush is in flight; b queues behind it, in the same flusher task
    with tracer.start_as_current_span("b") as b:
        second = asyncio.create_task(commit.submit("b"))
        await asyncio.sleep(0.01)
        release.set()
        assert await asyncio.gather(first, second) == ["a", "b"]
    flushes = [s for s in exporter.get_finished_spans() if s.name == "writer flush"]
    assert [s.parent.span_id for s in flushes] == [a.get_span_context().span_id, b.get_span_context().span_id]
    assert flushes[1].context.trace_id == b.get_span_context().trace_id


async def test_a_sampled_caller_gets_the_flush_even_behind_an_unsampled_one(exporter):
    tracer = trace.get_tracer("test")

    async def flush(items: list[str]) -> list[str]:
        return items

    commit: GroupCommit[str, str] = GroupCommit(flush, max_inflight=1, name="mixed")

    async def unsampled() -> None:
        with trace.use_span(_unsampled_span()):
            await commit.submit("u")

    async def sampled() -> trace.SpanContext:
        with tracer.start_as_current_span("s") as span:
            await commit.submit("s")
            return span.get_span_context()

    _, chosen = await asyncio.gather(unsampled(), sampled())
    (flush_span,) = [s for s in exporter.get_finished_spans() if s.name == "mixed flush"]
    assert flush_span.parent.span_id == chosen.span_id  # recorded, in the sampled request's trace
    assert len(flush_span.links) == 1  # the unsampled caller's context, for completeness

    # Callers without any trace: the flush starts its own (fresh ids for its log lines).
    seen: list[trace.SpanContext] = []

    async def record(items: list[str]) -> list[str]:
        seen.append(trace.get_current_span().get_span_context())
        return items

    with trace.use_span(trace.INVALID_SPAN):
        assert await GroupCommit(record, name="bare").submit("x") == "x"
    assert seen[0].is_valid
