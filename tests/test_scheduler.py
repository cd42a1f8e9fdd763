"""Scheduler: work runs off the event loop, capacity is bounded, cancellation reaches the job."""

import asyncio
import threading
import time

import pytest

from generators.core.errors import Cancelled
from server.scheduler import Overloaded, Scheduler


def test_runs_off_the_loop_and_reports_queue_time():
    sched = Scheduler(workers=1, max_queue=4)
    loop_thread = threading.get_ident()

    async def main():
        return await asyncio.gather(*(sched.run(lambda c: threading.get_ident())
                                      for _ in range(3)))

    results = asyncio.run(main())
    assert all(tid != loop_thread for tid, _ in results)
    assert all(queued >= 0 for _, queued in results)
    assert sched.pending == 0 and sched.completed == 3
    sched.shutdown()


def test_full_queue_is_refused_with_a_retry_hint():
    sched = Scheduler(workers=1, max_queue=1)
    release = threading.Event()

    async def main():
        slow = [asyncio.ensure_future(sched.run(lambda c: release.wait(5))) for _ in range(2)]
        await asyncio.sleep(0.05)
        with pytest.raises(Overloaded) as err:
            await sched.run(lambda c: None)
        assert err.value.retry_after_s > 0 and "retry in about" in str(err.value)
        release.set()
        await asyncio.gather(*slow)

    asyncio.run(main())
    assert sched.pending == 0
    sched.shutdown()


def test_cancelling_the_caller_stops_the_job_and_frees_its_slot():
    sched = Scheduler(workers=1, max_queue=0)
    stopped = threading.Event()

    def work(cancel):
        for _ in range(500):
            try:
                cancel.check()
            except Cancelled:
                stopped.set()
                raise
            time.sleep(0.01)
        return "finished"

    async def main():
        task = asyncio.ensure_future(sched.run(work))
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert stopped.wait(2), "the job saw the cancellation"
    deadline = time.time() + 2
    while sched.pending and time.time() < deadline:
        time.sleep(0.01)
    assert sched.pending == 0 and sched.cancelled == 1
    sched.shutdown()
