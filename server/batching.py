"""Dynamic batching across calls: concurrent generations for one model, one model call.

Triton's dynamic batcher, for the event loop: the first request for a model opens a batch and
waits up to `max_delay_s` for more; the batch is flushed when that delay has passed or when
`max_size` requests have joined, whichever comes first, and runs as one job (`run_batch`, one
`Pipeline.build` over every request, so one generate call). Each request still gets its own
result, the same bytes an unbatched run makes: generators' `generate(specs)` answers every
spec as if alone (tests/test_batching.py checks voxel-gan and implicit-gan byte for byte).

A request whose caller goes away leaves its batch; a batch whose every caller has gone has
its CancelToken set, so a queued job is dropped and a running one stops at its next check.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from generators.core.asset import CancelToken

log = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")


class _Batch(Generic[T]):
    __slots__ = ("cancel", "futures", "items", "live", "timer")

    def __init__(self) -> None:
        self.items: list[T] = []
        self.futures: list[asyncio.Future] = []
        self.cancel = CancelToken()
        self.live = 0  # callers still waiting for their result
        self.timer: asyncio.TimerHandle | None = None


class Batcher(Generic[T, R]):
    """Groups `submit`ted items into batches for `run_batch(items, cancel) -> results` (one
    result per item, in order; an exception fails every item of the batch)."""

    def __init__(self, run_batch: Callable[[list[T], CancelToken], Awaitable[list[R]]],
                 max_delay_s: float,  # how long the first item of a batch waits for others
                 max_size: int):  # items per batch; a full batch is flushed at once
        if max_delay_s < 0 or max_size < 1:
            raise ValueError(f"batching needs max_delay_s >= 0 and max_size >= 1, got "
                             f"{max_delay_s} and {max_size}")
        self._run = run_batch
        self.max_delay_s = max_delay_s
        self.max_size = max_size
        self._open: _Batch[T] | None = None
        self._tasks: set[asyncio.Task] = set()
        self.batches = 0  # flushed batches, and the items they held (for tests and metrics)
        self.items = 0

    async def submit(self, item: T) -> R:
        loop = asyncio.get_running_loop()
        batch = self._open
        if batch is None:
            batch = self._open = _Batch()
            batch.timer = loop.call_later(self.max_delay_s, self._flush, batch)
        fut = loop.create_future()
        batch.items.append(item)
        batch.futures.append(fut)
        batch.live += 1
        if len(batch.items) >= self.max_size:
            self._flush(batch)
        try:
            return await asyncio.shield(fut)
        except asyncio.CancelledError:
            if not fut.done():
                fut.cancel()
            batch.live -= 1
            if batch.live == 0:
                batch.cancel.cancel()
                if batch is self._open:  # not flushed yet: nobody waits for it any more
                    self._close(batch)
            raise

    def _close(self, batch: _Batch[T]) -> None:
        if batch.timer is not None:
            batch.timer.cancel()
        if self._open is batch:
            self._open = None

    def _flush(self, batch: _Batch[T]) -> None:
        if self._open is not batch:
            return  # flushed already (full before its timer fired)
        self._close(batch)
        if batch.live == 0:
            return
        self.batches += 1
        self.items += len(batch.items)
        task = asyncio.ensure_future(self._execute(batch))
        self._tasks.add(task)  # keep a reference until it is done
        task.add_done_callback(self._tasks.discard)

    async def _execute(self, batch: _Batch[T]) -> None:
        try:
            results = await self._run(batch.items, batch.cancel)
            if len(results) != len(batch.items):
                raise RuntimeError(f"a batch of {len(batch.items)} got {len(results)} results")
        except BaseException as exc:
            for fut in batch.futures:
                if not fut.done():
                    fut.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        for fut, result in zip(batch.futures, results):
            if not fut.done():
                fut.set_result(result)
