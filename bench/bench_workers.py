"""Worker processes vs in process: the cost of generating in a `server/workers.py` process.

    .venv/bin/python bench/bench_workers.py

Warms the map variants of every category in both, then times 48 default procedural props,
alternating one in process (`Pipeline.build`) and one through a worker (`ProcessPipeline`),
and prints both p50s and their ratio (the pipe, pickling and the worker's allocator settings).
"""

import statistics
import time

from generators.core.registry import load_models
from generators.pipeline import Pipeline
from server.workers import ProcessPipeline, WorkerSpec

CATS = ["chair", "table", "vase", "column", "bench", "lamp"]


def main() -> None:
    local = Pipeline(load_models(["procedural"]))
    remote = ProcessPipeline(WorkerSpec(models=("procedural",)), 1, local)
    remote.wait_ready(300)

    def jobs(base: int) -> list:
        return [local.prepare("procedural", CATS[i % 6], base + i, {}) for i in range(48)]

    for pipe in (local, remote):  # warm the map variants (seed % 8) of every category
        for job in jobs(0):
            pipe.build([job])
    times: dict[str, list[float]] = {"in process": [], "worker process": []}
    for job in jobs(1000):
        for name, pipe in (("in process", local), ("worker process", remote)):
            t0 = time.perf_counter()
            pipe.build([job])
            times[name].append((time.perf_counter() - t0) * 1e3)
    p50 = {name: statistics.median(ts) for name, ts in times.items()}
    print(f"48 default procedural props, warm, alternating: in process p50 "
          f"{p50['in process']:.0f} ms, worker process p50 {p50['worker process']:.0f} ms, "
          f"ratio {p50['worker process'] / p50['in process']:.2f}")
    remote.close()


if __name__ == "__main__":  # spawned workers import this module: keep the guard
    main()
