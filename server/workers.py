"""Generation in worker processes, so the event loop never waits for the GIL.

Open3D's decimation and ray casting, fast_simplification and parts of trimesh hold the GIL for
a whole call (a 2,000-triangle decimation of a prop: tens of milliseconds; measured: a thread
looping `simplify_quadric_decimation` made `time.sleep(0.001)` on the main thread take
1.9 s p50). With generation on threads, every such call stalls the event loop that streams
other calls and refuses overload; refusals took 23 ms p50 / 114 ms p95 at a client with a
core of its own (`bench/bench_soak.py`'s probe), and two threads could not use two cores.

`ProcessPipeline` has the `Pipeline` interface the service uses (`prepare`, `replay`, `build`)
and runs `build` in one of `workers` processes (spawned, each loading the same models; the
scheduler's threads each hand one call to a free process and wait on its pipe, which releases
the GIL). Validation, asset ids and cache hits stay in the server process. What crosses the
pipe: canonical requests in; exported files, progress (`on_file`), errors and log records out.
A cancelled call sets a flag in shared memory that the worker's `CancelToken` reads, so the
generator stops at its next check. A worker that dies (OOM killer, a crash in native code) is
replaced, and its call fails with `WorkerDied` (UNAVAILABLE: retry), not with a hang.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import multiprocessing as mp
import os
import queue
import threading
import time
from collections.abc import Sequence
from multiprocessing.connection import Connection

from generators.core.asset import CancelToken
from generators.core.errors import GeneratorError, ModelLoadError
from generators.pipeline import Built, Job, OnFile, Pipeline

log = logging.getLogger(__name__)

_POLL_S = 0.02  # how often a waiting call looks at its cancel token


class WorkerDied(GeneratorError):
    """The process building this call died; the call can be retried."""


@dataclasses.dataclass(frozen=True)
class WorkerSpec:
    """What a worker process needs to load the same models as the server."""

    models: tuple[str, ...]  # empty: every registered model
    model_dirs: tuple[str, ...] = ()
    torch_threads: int = 1
    log_level: int = logging.INFO
    # A worker holding more than this after a call (its RSS, after a malloc_trim) is
    # replaced by a fresh one, as Celery's max-memory-per-child: allocator retention and
    # fragmentation cannot grow without bound. 0 = never.
    max_rss_mib: int = 0


def worker_spec(config) -> WorkerSpec:
    """The spec of `config`'s generation processes (a ServerConfig)."""
    threads = config.torch_threads or max(1, (os.cpu_count() or 1) // config.workers)
    return WorkerSpec(models=tuple(config.models), model_dirs=tuple(config.model_dirs),
                      torch_threads=threads, log_level=logging.getLogger().getEffectiveLevel(),
                      max_rss_mib=config.worker_max_rss_mib)


# ---------------------------------------------------------------- errors across the pipe

def _pack_error(exc: BaseException) -> tuple:
    """Errors whose __init__ takes other arguments than their message do not unpickle
    (UnknownModel(name, known)): send the class, the message and the attributes instead."""
    return type(exc), str(exc), dict(getattr(exc, "__dict__", {}))


def _unpack_error(packed: tuple) -> BaseException:
    cls, message, attrs = packed
    exc = cls.__new__(cls)
    Exception.__init__(exc, message)
    exc.__dict__.update(attrs)
    return exc


# ---------------------------------------------------------------- the worker side

class _SharedCancel(CancelToken):
    """A CancelToken the server process sets through shared memory."""

    def __init__(self, flag) -> None:
        super().__init__()
        self._flag = flag

    def cancel(self) -> None:
        self._flag.value = 1

    @property
    def cancelled(self) -> bool:
        return bool(self._flag.value)

    def check(self) -> None:
        if self._flag.value:
            super().cancel()
        super().check()


class _PipeLogHandler(logging.Handler):
    """Log records of the worker go to the server process, which logs them as its own (with
    the request id of the call, its handlers, its format and its rotation)."""

    def __init__(self, conn: Connection, lock: threading.Lock):
        super().__init__()
        # not `self.lock`: logging.Handler holds that one around emit()
        self.conn, self.send_lock = conn, lock

    def emit(self, record: logging.LogRecord) -> None:
        try:
            msg = record.getMessage()
            if record.exc_info:
                msg += "\n" + logging.Formatter().formatException(record.exc_info)
            with self.send_lock:
                self.conn.send(("log", record.name, record.levelno, msg))
        except Exception:  # noqa: BLE001, S110 - a log line must never fail a build
            pass


def _exit_with_parent(parent: int) -> None:
    """A server killed with SIGKILL cannot stop its workers: they stop themselves, mid-build
    too, within a second."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)


def _worker_main(spec: WorkerSpec, conn: Connection, flag) -> None:
    try:
        _serve(spec, conn, flag)
    except (BrokenPipeError, ConnectionResetError, EOFError):
        pass  # the server closed the pipe (it stopped, or refused to start): nothing to say


def _serve(spec: WorkerSpec, conn: Connection, flag) -> None:
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True,
                     name="parent-watch").start()
    lock = threading.Lock()
    root = logging.getLogger()
    root.handlers[:] = [_PipeLogHandler(conn, lock)]
    root.setLevel(spec.log_level)
    try:
        import torch

        torch.set_num_threads(max(1, spec.torch_threads))
        from generators.core.registry import add_model_dir, load_models

        for d in spec.model_dirs:
            add_model_dir(d)
        pipe = Pipeline(load_models(list(spec.models) or None))
    except BaseException as exc:  # noqa: BLE001 - reported to the server, which refuses to start
        conn.send(("failed", _pack_error(exc)))
        return
    conn.send(("ready", os.getpid()))
    cancel = _SharedCancel(flag)
    while True:
        try:
            canonicals = conn.recv()
        except (EOFError, OSError):  # the server is gone: so are we
            return
        cancel._event.clear()  # the server resets the shared flag before it sends a call

        def on_file(i, progress):  # each file crosses the pipe once: here, as it is made
            with lock:
                conn.send(("file", i, dataclasses.replace(progress, job=None,
                                                          files=progress.files[-1:])))

        try:
            reply = ("done", _build(pipe, canonicals, cancel, on_file))
        except BaseException as exc:  # noqa: BLE001 - Cancelled and the rest, to the caller
            reply = ("raise", _pack_error(exc))
        rss = _rss_mib()
        if spec.max_rss_mib and rss > spec.max_rss_mib / 2:
            _trim()  # the call's arrays are gone: give their pages back before the cap check
            rss = _rss_mib()
        with lock:
            conn.send((*reply, rss))


def _build(pipe: Pipeline, canonicals, cancel, on_file) -> list:
    jobs = [pipe.replay(c) for c in canonicals]
    if any(j is None for j in jobs):
        raise GeneratorError("a request the worker cannot replay")
    # The files went out one by one through on_file: the result carries none of them again.
    return [_pack_error(r) if isinstance(r, BaseException)
            else dataclasses.replace(r, job=None, files=[])
            for r in pipe.build(jobs, cancel, on_file)]


def _rss_mib() -> float:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError):
        return 0.0


# ---------------------------------------------------------------- the server side

# glibc's allocator settings for the workers (unless the environment sets them): two arenas
# instead of 8 per core. A lower mmap threshold (128 KiB: big arrays back to the system when
# freed) and a malloc_trim after every call were tried too: together they made a default prop
# 1.23x slower in a worker than in process (alternating, warm; 1.01x without both), so a worker
# trims only when it holds more than half its --worker-max-rss-mib, and is replaced above it.
MALLOC_ENV = {"MALLOC_ARENA_MAX": "2"}
_ENV_LOCK = threading.Lock()


def _trim() -> None:
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


class _Worker:
    def __init__(self, ctx, spec: WorkerSpec, index: int):
        self.flag = ctx.Value("b", 0, lock=False)
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_worker_main, args=(spec, child, self.flag),
                                   name=f"vitrine-gen-{index}", daemon=True)
        with _ENV_LOCK:  # the child's environment is this process's at start()
            added = {k: v for k, v in MALLOC_ENV.items() if k not in os.environ}
            os.environ.update(added)
            try:
                self.process.start()
            finally:
                for key in added:
                    os.environ.pop(key, None)
        child.close()
        self.ready = False
        self.rss_mib = 0.0  # after its last call, as the worker measured it

    def wait_ready(self, timeout: float | None = None) -> None:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.ready:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not self.conn.poll(left):
                raise ModelLoadError(f"generation worker {self.process.name} did not load its "
                                     f"models in {timeout:g} s")
            msg = self.conn.recv()
            if msg[0] == "ready":
                self.ready = True
            elif msg[0] == "failed":
                raise _unpack_error(msg[1])
            elif msg[0] == "log":
                _relay_log(msg)

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.conn.close()
        self.process.join(timeout=2)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(timeout=2)


def _relay_log(msg: tuple) -> None:
    _, name, level, text = msg
    logging.getLogger(name).log(level, "%s", text)


class ProcessPipeline:
    """`Pipeline`'s interface, with `build` run in worker processes (see the module doc)."""

    def __init__(self, spec: WorkerSpec, workers: int, pipeline: Pipeline | None = None):
        """Starts the workers at once (they load their models while the server loads its
        own); `attach` the server's own Pipeline before the first call if not given here."""
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.local = pipeline  # prepare/replay and the catalog: no generation here
        self._spec = spec
        self._ctx = mp.get_context("spawn")  # never fork a process that runs gRPC threads
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._all: list[_Worker] = []
        self._closed = False
        self._count = 0
        self.recycled = 0  # workers replaced for holding more than spec.max_rss_mib
        for _ in range(workers):
            self._idle.put(self._start())

    def attach(self, pipeline: Pipeline) -> ProcessPipeline:
        self.local = pipeline
        return self

    @property
    def models(self):
        return self.local.models

    def wait_ready(self, timeout: float = 300) -> None:
        """Block until every worker has loaded its models (raises what a worker raised)."""
        for worker in list(self._all):
            try:
                worker.wait_ready(timeout)
            except (EOFError, OSError) as err:
                raise ModelLoadError(f"generation worker {worker.process.name} exited (code "
                                     f"{worker.process.exitcode}) while loading its models; "
                                     "run with --no-worker-processes to see why in this "
                                     "process") from err

    def prepare(self, *args, **kwargs) -> Job:
        return self.local.prepare(*args, **kwargs)

    def replay(self, canonical: bytes) -> Job | None:
        return self.local.replay(canonical)

    def build(self, jobs: Sequence[Job], cancel: CancelToken | None = None,
              on_file: OnFile | None = None) -> list[Built | GeneratorError]:
        if self._closed:
            raise WorkerDied("the server is shutting down")
        worker = self._idle.get()
        try:
            return self._run(worker, jobs, cancel, on_file)
        except (EOFError, OSError, BrokenPipeError):
            code = worker.process.exitcode
            log.error("generation worker %s died (exit %s); starting another",
                      worker.process.name, code)
            self._all.remove(worker)
            worker.stop()
            worker = self._replace()
            raise WorkerDied(f"the generation worker died (exit {code}); retry the call")
        finally:
            if worker is not None and self._spec.max_rss_mib and \
                    worker.rss_mib > self._spec.max_rss_mib:
                log.info("generation worker %s holds %.0f MiB after its call (cap %d MiB, "
                         "--worker-max-rss-mib): replacing it", worker.process.name,
                         worker.rss_mib, self._spec.max_rss_mib)
                self.recycled += 1
                self._all.remove(worker)
                worker.stop()
                worker = self._replace()
            if worker is not None and not self._closed:
                self._idle.put(worker)

    def _replace(self) -> _Worker | None:
        return None if self._closed else self._start()

    def _start(self) -> _Worker:
        worker = _Worker(self._ctx, self._spec, self._count)
        self._count += 1
        self._all.append(worker)
        return worker

    def _run(self, worker: _Worker, jobs, cancel, on_file):
        worker.wait_ready()
        worker.flag.value = 0
        worker.conn.send([job.canonical for job in jobs])
        files: list[list] = [[] for _ in jobs]  # each job's files so far, in streaming order
        sent_cancel = False
        while True:
            if cancel is not None and cancel.cancelled and not sent_cancel:
                worker.flag.value = 1
                sent_cancel = True
            if not worker.conn.poll(_POLL_S):
                if not worker.process.is_alive() and not worker.conn.poll(0):
                    raise EOFError
                continue
            msg = worker.conn.recv()
            kind = msg[0]
            if kind == "log":
                _relay_log(msg)
            elif kind == "file":
                files[msg[1]].extend(msg[2].files)
                if on_file is not None:
                    on_file(msg[1], dataclasses.replace(msg[2], job=jobs[msg[1]],
                                                        files=tuple(files[msg[1]])))
            elif kind == "done":
                worker.rss_mib = msg[2]
                return [_unpack_error(r) if isinstance(r, tuple)
                        else dataclasses.replace(r, job=job, files=got)
                        for r, job, got in zip(msg[1], jobs, files)]
            elif kind == "raise":
                worker.rss_mib = msg[2]
                raise _unpack_error(msg[1])

    def close(self) -> None:
        self._closed = True
        for worker in self._all:
            worker.stop()
        self._all.clear()
