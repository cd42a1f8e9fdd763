"""server/workers.py: generation in worker processes gives the thread path's bytes, carries
progress, errors and cancellation across the pipe, and survives a worker's death."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from generators.core.asset import CancelToken
from generators.core.errors import Cancelled, InvalidOption, UnknownModel
from generators.core.registry import load_models
from generators.pipeline import Pipeline
from server.workers import ProcessPipeline, WorkerDied, WorkerSpec, _pack_error, _unpack_error


@pytest.fixture(scope="module")
def pipes():
    local = Pipeline(load_models(["procedural"]))
    remote = ProcessPipeline(WorkerSpec(models=("procedural",)), workers=1, pipeline=local)
    remote.wait_ready(120)
    yield local, remote
    remote.close()


def _job(pipe, seed, **options):
    return pipe.prepare("procedural", "vase", seed, {"max_triangles": 800, **options})


def test_same_bytes_and_progress_as_in_process(pipes):
    local, remote = pipes
    seen = []
    built = remote.build([_job(local, 5), _job(local, 6)],
                         on_file=lambda i, p: seen.append((i, p.files[-1].name, p.job)))
    want = local.build([_job(local, 5), _job(local, 6)])
    assert [[f.sha256 for f in b.files] for b in built] == \
        [[f.sha256 for f in b.files] for b in want]
    assert [b.job.asset_id for b in built] == [b.job.asset_id for b in want]
    # every file was reported as it was exported, with the caller's own Job attached
    assert sorted((i, name) for i, name, _ in seen) == sorted(
        (i, f.name) for i, b in enumerate(want) for f in b.files)
    assert all(job is not None for _, _, job in seen)


def test_errors_keep_their_class_and_fields():
    for exc in (UnknownModel("nope", ["procedural"]), InvalidOption("options.seed", "too big")):
        back = _unpack_error(_pack_error(exc))
        assert type(back) is type(exc) and str(back) == str(exc)
        assert back.__dict__ == exc.__dict__


def test_cancel_stops_the_worker_and_it_serves_again(pipes):
    local, remote = pipes
    cancel = CancelToken()
    threading.Timer(0.3, cancel.cancel).start()
    t0 = time.perf_counter()
    with pytest.raises(Cancelled):
        # a heavy batch that would take many seconds
        remote.build([_job(local, s, max_triangles=20000, lod_count=3) for s in range(40)],
                     cancel)
    assert time.perf_counter() - t0 < 10
    assert len(remote.build([_job(local, 7)])[0].files) >= 1


def test_a_dead_worker_fails_its_call_and_is_replaced(pipes):
    local, remote = pipes
    pid = remote._all[0].process.pid
    threading.Timer(0.5, os.kill, (pid, signal.SIGKILL)).start()
    with pytest.raises(WorkerDied, match="died"):
        remote.build([_job(local, s, max_triangles=20000, lod_count=3) for s in range(40)])
    built = remote.build([_job(local, 8)])[0]
    assert built.files and remote._all[0].process.pid != pid


def test_workers_exit_when_the_server_is_killed(tmp_path):
    """kill -9 of the server leaves no generation process behind."""
    import subprocess
    import sys

    script = ("from server.workers import ProcessPipeline, WorkerSpec\n"
              "import time\n"
              "r = ProcessPipeline(WorkerSpec(models=('procedural',)), workers=1)\n"
              "r.wait_ready(120)\n"
              "print(r._all[0].process.pid, flush=True)\n"
              "time.sleep(120)\n")
    server = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        worker = int(server.stdout.readline())
        server.kill()
        server.wait(10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(worker, 0)
            except ProcessLookupError:
                break
            time.sleep(0.2)
        else:
            os.kill(worker, signal.SIGKILL)
            raise AssertionError("the worker outlived its server")
    finally:
        server.kill()


def test_a_worker_over_its_memory_cap_is_replaced_after_its_call():
    local = Pipeline(load_models(["procedural"]))
    remote = ProcessPipeline(WorkerSpec(models=("procedural",), max_rss_mib=1), workers=1,
                             pipeline=local)
    try:
        first = remote._all[0].process.pid
        built = remote.build([_job(local, 9)])[0]
        assert built.files  # the call itself is answered
        assert remote.recycled == 1 and remote._all[0].process.pid != first
        assert remote.build([_job(local, 9)])[0].files[0].sha256 == built.files[0].sha256
    finally:
        remote.close()
