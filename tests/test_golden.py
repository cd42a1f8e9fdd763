"""Golden bytes: a model's output may change only with its version.

Every model makes one small asset; the digest of its files must equal the one recorded for the
model's current version in `golden.json`. Bytes that change under the same version would serve
new bytes under old asset ids (caches, CDNs and clients keep the old ones): bump the model's
`VERSION` (e.g. `ProceduralGenerator.VERSION`) and record the new digest with

    .venv/bin/python tests/test_golden.py --update

A version missing from the table fails too, so every version's bytes get recorded once.
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
REQUESTS = {  # model -> (category, seed, options): small, so the test is quick
    "procedural": ("chair", 3, SMALL),
    "voxel-gan": ("vase", 3, SMALL),
    "implicit-gan": ("lamp", 3, SMALL),
    "texture-gan": ("marble", 3, {"texture_size": 64}),
}


def digest(model: str) -> tuple[str, str]:
    """(model version, sha256 over the asset's file names and digests)."""
    from generators.core.registry import load_models
    from generators.pipeline import Pipeline

    pipe = Pipeline(load_models([model]))
    category, seed, options = REQUESTS[model]
    built = pipe.build([pipe.prepare(model, category, seed, options)])[0]
    h = hashlib.sha256()
    for f in built.files:
        h.update(f"{f.name}:{f.sha256};".encode())
    return pipe.models[model].info.version, h.hexdigest()


@pytest.mark.parametrize("model", list(REQUESTS))
def test_bytes_change_only_with_the_version(model):
    table = json.loads(TABLE.read_text())
    version, got = digest(model)
    recorded = table.get(model, {})
    assert version in recorded, (
        f"{model} version {version} has no recorded bytes ({sorted(recorded)} have); if the "
        "bytes were meant to change, record them: .venv/bin/python tests/test_golden.py --update")
    assert got == recorded[version], (
        f"{model}'s bytes changed but its version {version} did not: bump its VERSION, then "
        ".venv/bin/python tests/test_golden.py --update")


def _update() -> None:
    sys.path.insert(0, str(ROOT))
    table = json.loads(TABLE.read_text()) if TABLE.exists() else {}
    for model in REQUESTS:
        # implicit-gan's bytes depend on its serving precision (in its version): record both.
        dtypes = ("float32", "bfloat16") if model == "implicit-gan" else (None,)
        for dtype in dtypes:
            if dtype:
                os.environ["VITRINE_DECODER_DTYPE"] = dtype
            version, got = digest(model)
            known = table.setdefault(model, {})
            if known.get(version) not in (None, got):
                raise SystemExit(f"{model} {version}: bytes changed under the same version; "
                                 "bump its VERSION first")
            known[version] = got
            print(f"{model} {version} {got[:16]}")
        os.environ.pop("VITRINE_DECODER_DTYPE", None)
    TABLE.write_text(json.dumps(table, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    if sys.argv[1:] != ["--update"]:
        raise SystemExit(__doc__)
    _update()
