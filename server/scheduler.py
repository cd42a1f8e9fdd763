"""Runs generation off the event loop, with a bounded queue and cancellation.

Generation is CPU-bound (numpy, torch); it runs on a small thread pool so the event loop keeps
streaming other calls. A job whose caller goes away has its CancelToken set, and the generator
stops at its next check. Past `workers + max_queue` pending jobs new work is refused with
`Overloaded`, carrying an estimate of when to retry.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from generators.core.asset import CancelToken
from generators.core.errors import Cancelled

log = logging.getLogger(__name__)
T = TypeVar("T")


class Overloaded(Exception):
    def __init__(self, pending: int, retry_after_s: float):
        self.retry_after_s = retry_after_s
        super().__init__(
            f"server at capacity ({pending} generation jobs pending); "
            f"retry in about {retry_after_s:.1f} s"
        )


class Scheduler:
    def __init__(self, workers: int, max_queue: int):
        self.workers = workers
        self.max_queue = max_queue
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="vitrine-gen")
        self._lock = threading.Lock()
        self.pending = 0  # submitted and not finished (running or queued)
        self.running = 0  # of those, the ones a worker has started
        self.completed = 0
        self.cancelled = 0
        self._job_s = 0.5  # running estimate of one job's duration, for retry hints

    def _finished(self, seconds: float | None, was_cancelled: bool) -> None:
        with self._lock:
            self.pending -= 1
            if was_cancelled:
                self.cancelled += 1
            else:
                self.completed += 1
            if seconds is not None:
                self._job_s = 0.8 * self._job_s + 0.2 * seconds

    def depth(self) -> tuple[int, int]:
        """(jobs running, jobs queued waiting for a worker), for metrics."""
        with self._lock:
            return self.running, self.pending - self.running

    async def run(self, fn: Callable[[CancelToken], T], cancel: CancelToken | None = None) -> tuple[T, float]:
        """Run fn(cancel) on a worker; returns (result, seconds spent queued).

        If the awaiting task is cancelled (client gone, deadline passed) the token is set and
        the job stops at its next check; its slot is held until the thread really returns.
        """
        cancel = cancel or CancelToken()
        with self._lock:
            if self.pending >= self.workers + self.max_queue:
                retry = self._job_s * (self.pending + 1) / self.workers
                raise Overloaded(self.pending, retry)
            self.pending += 1
        submitted = time.perf_counter()
        queued = [0.0]

        def job() -> T:
            start = time.perf_counter()
            queued[0] = start - submitted
            ok = False
            with self._lock:
                self.running += 1
            try:
                cancel.check()
                result = fn(cancel)
                ok = True
                return result
            finally:
                with self._lock:
                    self.running -= 1
                self._finished(time.perf_counter() - start if ok else None, not ok)

        try:
            future = self._pool.submit(job)
        except RuntimeError:  # pool shut down
            self._finished(None, True)
            raise
        try:
            result = await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            cancel.cancel()
            if future.cancel():  # never started: job() will not run to release the slot
                self._finished(None, True)
            raise
        except Cancelled:
            raise
        return result, queued[0]

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
