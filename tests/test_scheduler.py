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


def test_clients_are_served_round_robin_not_fifo():
    """40 jobs of one client queued first do not delay another client's job by 40 jobs."""
    sched = Scheduler(workers=1, max_queue=64)
    order: list[str] = []

    def job(name):
        def fn(cancel):
            time.sleep(0.005)
            order.append(name)
        return fn

    async def main():
        heavy = [asyncio.ensure_future(sched.run(job("a"), client="a")) for _ in range(30)]
        await asyncio.sleep(0)
        done_before.append(len(order))  # a's jobs already run when b arrives (machine load)
        light = asyncio.ensure_future(sched.run(job("b"), client="b"))
        await asyncio.gather(*heavy, light)

    done_before: list[int] = []
    asyncio.run(main())
    assert order.index("b") <= done_before[0] + 2, order
    assert sched.pending == 0 and sched.completed == 31
    sched.shutdown()


def test_one_client_cannot_fill_the_queue():
    """While two clients wait, each may hold half the queue: the second is never shut out."""
    sched = Scheduler(workers=1, max_queue=16)
    release = threading.Event()

    async def main():
        running = asyncio.ensure_future(sched.run(lambda c: release.wait(5), client="a"))
        mine = [asyncio.ensure_future(sched.run(lambda c: None, client="a")) for _ in range(8)]
        other = asyncio.ensure_future(sched.run(lambda c: "b", client="b"))
        await asyncio.sleep(0.05)
        assert sched.depth() == (1, 9)
        t0 = time.perf_counter()
        with pytest.raises(Overloaded) as err:  # "a" holds 8 = 16 // 2 clients
            await sched.run(lambda c: None, client="a")
        assert time.perf_counter() - t0 < 0.05
        assert err.value.reason == "share" and err.value.retry_after_s > 0
        release.set()
        await asyncio.gather(running, *mine)
        assert (await other)[0] == "b"

    asyncio.run(main())
    assert sched.pending == 0
    sched.shutdown()


def test_a_deadline_shorter_than_the_queue_is_refused_at_once():
    sched = Scheduler(workers=1, max_queue=16)
    sched._job_s = 1.0  # as if each job had taken a second
    release = threading.Event()

    async def main():
        busy = asyncio.ensure_future(sched.run(lambda c: release.wait(5), client="a"))
        queued = [asyncio.ensure_future(sched.run(lambda c: None, client="a")) for _ in range(4)]
        await asyncio.sleep(0.05)
        t0 = time.perf_counter()
        with pytest.raises(Overloaded) as err:
            await sched.run(lambda c: None, client="a", deadline_s=0.5)
        assert time.perf_counter() - t0 < 0.05
        assert err.value.reason == "deadline" and "deadline" in str(err.value)
        # the same call with time enough is queued
        ok = asyncio.ensure_future(sched.run(lambda c: "ok", client="a", deadline_s=60))
        release.set()
        await asyncio.gather(busy, *queued)
        assert (await ok)[0] == "ok"

    asyncio.run(main())
    sched.shutdown()
