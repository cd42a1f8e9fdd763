"""Runs generation off the event loop: a small thread pool fed fairly from per-client queues,
bounded, deadline-aware, with cancellation.

Generation is CPU-bound (numpy, torch); it runs on `workers` threads so the event loop keeps
streaming other calls. Jobs wait in one queue per client and a free worker takes the next job
round-robin over the clients with work waiting, so one client's 40 heavy calls delay another
client's call by about one job per worker, not by 40. Admission refuses at once (`Overloaded`,
with an estimate of when to retry) instead of letting a call wait:

- the whole queue is full (`workers + max_queue` jobs pending);
- the client already holds its share of the queue (max_queue / clients waiting, at least 1),
  so one client cannot fill the queue and have every other client refused;
- the caller's deadline is sooner than the expected wait in the queue (jobs ahead of this
  one in round-robin order x the running job-duration estimate / workers). This is
  RESOURCE_EXHAUSTED, not DEADLINE_EXCEEDED: the deadline has not passed, the cause is load,
  and the RetryInfo says when the queue should have room (or retry with a longer deadline).
  A job that would start at once is never refused for its deadline: one job's duration
  depends on the model and options, which the estimate does not know.

A job whose caller goes away has its CancelToken set: still queued, it is dropped; running,
the generator stops at its next check.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError, ThreadPoolExecutor
from typing import TypeVar

from generators.core.asset import CancelToken
from generators.core.errors import Cancelled

log = logging.getLogger(__name__)
T = TypeVar("T")


class Overloaded(Exception):
    def __init__(self, pending: int, retry_after_s: float, message: str | None = None,
                 reason: str = "queue"):
        self.retry_after_s = retry_after_s
        self.reason = reason  # queue | share | deadline: the refusal metric's label
        super().__init__(message or (
            f"server at capacity ({pending} generation jobs pending); "
            f"retry in about {retry_after_s:.1f} s"))


class _Entry:
    __slots__ = (
        "cancel",
        "client",
        "context",
        "fn",
        "future",
        "queued_s",
        "started",
        "submitted",
    )

    def __init__(self, fn, cancel: CancelToken, client: str):
        self.fn, self.cancel, self.client = fn, cancel, client
        self.future: Future = Future()
        self.submitted = time.perf_counter()
        self.queued_s = 0.0
        self.context = contextvars.copy_context()  # the request id, for the job's log lines
        self.started = False


class Scheduler:
    def __init__(self, workers: int, max_queue: int):
        self.workers = workers
        self.max_queue = max_queue
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="vitrine-gen")
        self._lock = threading.Lock()
        # client -> its queued jobs; the order is the round-robin order of clients with work.
        self._queues: OrderedDict[str, deque[_Entry]] = OrderedDict()
        self._closed = False
        self.pending = 0  # submitted and not finished (running or queued)
        self.running = 0  # of those, the ones a worker has started
        self.completed = 0
        self.cancelled = 0
        self._job_s = 0.5  # running estimate of one job's duration, for retry hints

    def depth(self) -> tuple[int, int]:
        """(jobs running, jobs queued waiting for a worker), for metrics."""
        with self._lock:
            return self.running, self.pending - self.running

    def expected_wait_s(self, client: str = "") -> float:
        """How long a new job of `client` would wait for a worker now (an estimate)."""
        with self._lock:
            return self._wait_locked(client)

    def _wait_locked(self, client: str) -> float:
        if self.running < self.workers:
            return 0.0
        own = len(self._queues.get(client, ()))
        ahead = own + sum(min(len(q), own + 1) for c, q in self._queues.items() if c != client)
        return (ahead // self.workers + 0.5) * self._job_s

    def check(self, client: str = "", deadline_s: float | None = None) -> None:
        """Raise Overloaded if a job of `client` would be refused now (run() decides again)."""
        with self._lock:
            if not self._closed:
                self._admit_locked(client, deadline_s)

    async def run(self, fn: Callable[[CancelToken], T], cancel: CancelToken | None = None,
                  client: str = "", deadline_s: float | None = None) -> tuple[T, float]:
        """Run fn(cancel) on a worker; returns (result, seconds spent queued).

        `client` names the caller's queue; `deadline_s` is the time the caller has left (None
        = no deadline). If the awaiting task is cancelled (client gone, deadline passed) the
        token is set: a queued job is dropped, a running one stops at its next check (its
        worker is held until the thread really returns).
        """
        cancel = cancel or CancelToken()
        entry = _Entry(fn, cancel, client)
        with self._lock:
            if self._closed:
                raise RuntimeError("scheduler shut down")
            self._admit_locked(client, deadline_s)
            self.pending += 1
            self._queues.setdefault(client, deque()).append(entry)
            self._dispatch_locked()
        try:
            result = await asyncio.wrap_future(entry.future)
        except asyncio.CancelledError:
            cancel.cancel()
            with self._lock:
                if not entry.started and self._drop_locked(entry):
                    self.pending -= 1
                    self.cancelled += 1
            raise
        except Cancelled:
            raise
        return result, entry.queued_s

    def _admit_locked(self, client: str, deadline_s: float | None) -> None:
        if self.pending >= self.workers + self.max_queue:
            retry = self._job_s * (self.pending + 1) / self.workers
            raise Overloaded(self.pending, retry)
        if self.running < self.workers:
            return  # starts at once
        waiting = len(self._queues) + (client not in self._queues)
        share = max(1, self.max_queue // waiting)
        own = len(self._queues.get(client, ()))
        if own >= share:
            retry = self._job_s * (own + 1) / self.workers
            raise Overloaded(self.pending, retry, (
                f"this client already has {own} generation jobs queued, its share of the "
                f"queue while {waiting} clients wait; retry in about {retry:.1f} s"), "share")
        wait = self._wait_locked(client)
        if deadline_s is not None and wait > deadline_s:
            raise Overloaded(self.pending, wait, (
                f"the expected wait for a worker ({wait:.1f} s) is longer than the call's "
                f"deadline ({max(deadline_s, 0):.1f} s left); retry in about {wait:.1f} s or "
                "with a longer deadline"), "deadline")

    def _drop_locked(self, entry: _Entry) -> bool:
        queue = self._queues.get(entry.client)
        if queue is None or entry not in queue:
            return False
        queue.remove(entry)
        if not queue:
            del self._queues[entry.client]
        return True

    def _dispatch_locked(self) -> None:
        """Hand queued jobs to free workers, one per client in turn."""
        while self.running < self.workers and self._queues:
            client, queue = self._queues.popitem(last=False)
            entry = queue.popleft()
            if queue:
                self._queues[client] = queue  # to the back of the round-robin
            entry.started = True
            entry.queued_s = time.perf_counter() - entry.submitted
            self.running += 1
            try:
                self._pool.submit(self._execute, entry)
            except RuntimeError as err:  # pool shut down
                self.running -= 1
                self.pending -= 1
                self.cancelled += 1
                _resolve(entry.future, exc=err)

    def _execute(self, entry: _Entry) -> None:
        start = time.perf_counter()
        result, error = None, None
        try:
            entry.cancel.check()
            result = entry.context.run(entry.fn, entry.cancel)
        except BaseException as exc:  # noqa: BLE001 - handed to the awaiting call
            error = exc
        # The counts first, then the caller is woken: a caller that sees its result also sees
        # its job gone from `pending`.
        with self._lock:
            self.running -= 1
            self.pending -= 1
            if error is None:
                self.completed += 1
                self._job_s = 0.8 * self._job_s + 0.2 * (time.perf_counter() - start)
            else:
                self.cancelled += 1
            self._dispatch_locked()
        _resolve(entry.future, result=result, exc=error)

    def shutdown(self) -> None:
        with self._lock:
            self._closed = True
            queued = [e for q in self._queues.values() for e in q]
            self._queues.clear()
            self.pending -= len(queued)
            self.cancelled += len(queued)
        for entry in queued:
            entry.cancel.cancel()
            _resolve(entry.future, exc=RuntimeError("scheduler shut down"))
        self._pool.shutdown(wait=False, cancel_futures=True)


def _resolve(future: Future, result=None, exc: BaseException | None = None) -> None:
    """Set a future's outcome unless the awaiting side already cancelled it."""
    if future.cancelled():
        return
    with contextlib.suppress(InvalidStateError):  # cancelled meanwhile
        if exc is not None:
            future.set_exception(exc)
        else:
            future.set_result(result)
