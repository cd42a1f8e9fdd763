"""Golden bytes: a model's output may change only with its version.

Every model makes one small asset; the digest of its files must equal the one recorded for the
model's current version in `golden.json`. Bytes that change under the same version would serve
new bytes under old asset ids (caches, CDNs and clients keep the old ones): bump the model's
`VERSION` (e.g. `ProceduralGenerator.VERSION`) and record the new digest with

    .venv/bin/python tests/test_golden.py --update

A version missing from the table fails too, so every version's bytes get recorded once.

Learned models' bytes also depend on the machine: their networks' float results differ in the
last bits between CPUs (MKL and oneDNN pick other kernels on another vendor or instruction set),
and marching cubes or a vertex buffer turns those bits into other bytes. Their digests are
recorded per `platform()`; on a platform not yet in the table the test checks what it can
there (the version is recorded for some platform, and two builds give the same bytes) and
`--update` records it. Models whose bytes matched across different machines (PORTABLE) keep one
digest for every platform.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TABLE = Path(__file__).with_name("golden.json")
SMALL = {"max_triangles": 600, "lod_count": 2, "texture_size": 64, "resolution": 32}
# Bytes recorded equal on the 2026-12-01 machine and an AMD EPYC (AVX-512): one digest for all.
PORTABLE = {"procedural", "texture-gan"}
ANY = "any"
# Models whose version names implicit-gan's serving precision (its own, or a dependency's).
DTYPE_DEPENDENT = {"implicit-gan", "gallery"}
REQUESTS = {  # model -> (category, seed, options): small, so the test is quick
    "procedural": ("chair", 3, SMALL),
    "voxel-gan": ("vase", 3, SMALL),
    "implicit-gan": ("lamp", 3, SMALL),
    "texture-gan": ("marble", 3, {"texture_size": 64}),
    "humanoid": ("heroic", 3, {"lod_count": 1, "texture_size": 64, "max_triangles": 4000}),
    "character-gan": ("elder", 3, {"lod_count": 1, "texture_size": 64, "max_triangles": 4000}),
    "gallery": ("design", 3, {"exhibits": 2, "texture_size": 64, "max_triangles": 1000}),
}


def digest(model: str) -> tuple[str, str]:
    """(model version, sha256 over the asset's file names and digests)."""
    import torch

    from generators.core.registry import load_models
    from generators.pipeline import Pipeline

    # One torch thread, as a generation worker on this 2-core machine runs (cores / workers):
    # voxel-gan's bytes on an AVX2 EPYC differ between 1 and 2 threads, and the suite's
    # earlier tests leave the count at 1 while `--update` starts at 2.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        pipe = Pipeline(load_models([model]))
        category, seed, options = REQUESTS[model]
        built = pipe.build([pipe.prepare(model, category, seed, options)])[0]
    finally:
        torch.set_num_threads(threads)
    h = hashlib.sha256()
    for f in built.files:
        h.update(f"{f.name}:{f.sha256};".encode())
    return pipe.models[model].info.version, h.hexdigest()


def platform() -> str:
    """What a learned model's float results depend on: the CPU (vendor and model) and the
    instruction set torch's kernels use."""
    import torch

    cpu = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            cpu.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    name = cpu.get("model name") or cpu.get("vendor_id") or "unknown cpu"
    return f"{name} / torch {torch.backends.cpu.get_cpu_capability()}"


def _key(model: str) -> str:
    return ANY if model in PORTABLE else platform()


@pytest.mark.parametrize("model", list(REQUESTS))
def test_bytes_change_only_with_the_version(model):
    table = json.loads(TABLE.read_text())
    version, got = digest(model)
    recorded = table.get(model, {})
    assert recorded.get(version), (
        f"{model} version {version} has no recorded bytes ({sorted(recorded)} have); if the "
        "bytes were meant to change, record them: .venv/bin/python tests/test_golden.py --update")
    key = _key(model)
    if key in recorded[version]:
        assert got == recorded[version][key], (
            f"{model}'s bytes changed but its version {version} did not: bump its VERSION, "
            "then .venv/bin/python tests/test_golden.py --update")
    else:
        # A machine the table does not know: its bytes cannot be compared, but they must at
        # least be this machine's own, every time.
        assert digest(model) == (version, got), f"{model} is not deterministic on {key}"


def _update() -> None:
    sys.path.insert(0, str(ROOT))
    table = json.loads(TABLE.read_text()) if TABLE.exists() else {}
    for model in REQUESTS:
        # implicit-gan's bytes depend on its serving precision (in its version), and so does
        # the version of every model that requires it (the gallery's names its dependencies'
        # versions): record both, so that a CPU without native bfloat16 finds its version.
        dtypes = ("float32", "bfloat16") if model in DTYPE_DEPENDENT else (None,)
        for dtype in dtypes:
            if dtype:
                os.environ["VITRINE_DECODER_DTYPE"] = dtype
            version, got = digest(model)
            known = table.setdefault(model, {}).setdefault(version, {})
            key = _key(model)
            if known.get(key) not in (None, got):
                raise SystemExit(f"{model} {version}: bytes changed under the same version on "
                                 f"{key}; bump its VERSION first")
            known[key] = got
            print(f"{model} {version} {key}: {got[:16]}")
        os.environ.pop("VITRINE_DECODER_DTYPE", None)
    TABLE.write_text(json.dumps(table, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    if sys.argv[1:] != ["--update"]:
        raise SystemExit(__doc__)
    _update()
