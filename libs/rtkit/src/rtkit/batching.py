"""Group commit: concurrent callers' items share one round trip, with no added delay.

The first item starts a flush at once; items arriving while flushes are in flight are taken by
the next flush. At low load a batch is one item (latency unchanged); under load batches grow by
themselves, so the per-call cost of a round trip (a gRPC hop, a Postgres statement) is paid once
per batch instead of once per item. Each caller waits for its own item's result and sees the
batch's error if the batch failed.

Tracing: a flush runs in its own span (`<name> flush`), a child of the first sampled caller's
span (else the first caller's), with a link to every other caller's span; each recording caller's
span gets a link back. So every request's trace leads to the shared call that did its work, not
only the first request's, and later flushes are not filed under a request that ended long ago.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Generic, TypeVar

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, NonRecordingSpan, Span, SpanKind

from rtkit.metrics import GROUP_COMMIT_BATCH

_tracer = trace.get_tracer(__name__)

Item = TypeVar("Item")
Result = TypeVar("Result")

Flush = Callable[[list[Item]], Awaitable[Sequence[Result]]]


class GroupCommit(Generic[Item, Result]):
    """`await submit(item)` returns that item's entry of `flush(batch)`'s result list."""

    def __init__(self, flush: Flush[Item, Result], *, max_batch: int = 500, max_inflight: int = 2,
                 name: str = "group-commit", item_size: Callable[[Item], int] | None = None) -> None:
        self._flush_batch = flush
        self._max_batch, self._max_inflight = max_batch, max_inflight
        self._name = name
        self._queue: list[tuple[Item, asyncio.Future[Result], Span]] = []
        self._flushers: set[asyncio.Task[None]] = set()
        self._batch_size = GROUP_COMMIT_BATCH.labels(name)
        self._item_size = item_size  # what the metric counts per item (default 1: items per flush)

    async def submit(self, item: Item) -> Result:
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._queue.append((item, future, trace.get_current_span()))
        if len(self._flushers) < self._max_inflight:
            # A task, not the caller: a cancelled caller must not abandon the others' items.
            task = asyncio.create_task(self._flush(), name=self._name)
            self._flushers.add(task)
        return await future

    async def _flush(self) -> None:
        try:
            await self._drain()
        finally:
            # Synchronously after the last emptiness check (no await in between), so an item
            # queued later always finds a free flusher slot. A done-callback would leave a window.
            self._flushers.discard(asyncio.current_task())  # type: ignore[arg-type]

    async def _drain(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[: self._max_batch], self._queue[self._max_batch :]
            self._batch_size.observe(len(batch) if self._item_size is None
                                     else sum(self._item_size(item) for item, _, _ in batch))
            try:
                with _flush_span(self._name, [caller for _, _, caller in batch]):
                    results = await self._flush_batch([item for item, _, _ in batch])
                if len(results) != len(batch):
                    raise RuntimeError(f"{self._name}: {len(results)} results for {len(batch)} items")
            except asyncio.CancelledError:
                _fail(batch, RuntimeError(f"{self._name} was stopped"))
                raise
            except Exception as exc:  # noqa: BLE001 - every waiter of the batch gets the failure
                _fail(batch, exc)
            else:
                for (_, future, _), result in zip(batch, results, strict=True):
                    if not future.done():
                        future.set_result(result)

    async def close(self) -> None:
        """Wait for items already queued (call on shutdown, after new submissions stopped)."""
        while self._flushers:
            await asyncio.gather(*self._flushers, return_exceptions=True)


@contextlib.contextmanager
def _flush_span(name: str, callers: list[Span]) -> Iterator[Span]:
    distinct = {(c.trace_id, c.span_id): (c, span) for span in callers if (c := span.get_span_context()).is_valid}
    contexts = [context for context, _ in distinct.values()]
    parent = next((c for c in contexts if c.trace_flags.sampled), contexts[0] if contexts else None)
    others = [(context, span) for context, span in distinct.values() if context is not parent]
    with _tracer.start_as_current_span(
        f"{name} flush",
        context=trace.set_span_in_context(NonRecordingSpan(parent)) if parent is not None else Context(),
        kind=SpanKind.INTERNAL, links=[Link(context) for context, _ in others],
        attributes={"rtk.batch.size": len(callers)},
    ) as span:
        if span.is_recording():
            for _, caller in others:
                if caller.is_recording():
                    caller.add_link(span.get_span_context())
        yield span


def _fail(batch: list[tuple[Item, asyncio.Future[Result], Span]], exc: Exception) -> None:
    for _, future, _ in batch:
        if not future.done():
            future.set_exception(exc)
