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
def main():
    local = Pipeline(load_models(["procedural"]))
    remote = ProcessPipeline(WorkerSpec(models=("procedural",)), 1, local); remote.wait_ready(300)
    jobs = lambda base: [local.prepare("procedural", CATS[i % 6], base + i, {}) for i in range(48)]
    for p in (local, remote):   # warm the map variants (seed % 8) for every category
        for j in jobs(0): p.build([j])
    tl, tr = [], []
    for j in jobs(1000):
        t = time.perf_counter(); local.build([j]); tl.append((time.perf_counter() - t) * 1e3)
        t = time.perf_counter(); remote.build([j]); tr.append((time.perf_counter() - t) * 1e3)
    print(f"in process p50 {statistics.median(tl):.0f} ms, worker process p50 {statistics.median(tr):.0f} ms, ratio {statistics.median(tr)/statistics.median(tl):.2f}")
    remote.close()
if __name__ == "__main__":
    main()
