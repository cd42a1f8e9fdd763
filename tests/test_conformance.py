"""One table of golden requests (tests/conformance.json: model, category, seed, options ->
asset id and each file's sha256) run through all four clients against one live server: the
Python client, the Node client, the C++ core (its example's `conformance` mode) and the Unity
package's C# core (NUnit, over the HTTP face). None may drift from the server or the others.

Only `procedural` and `texture-gan` requests: their bytes are the same on every CPU; a learned
model's floats are not (tests/test_golden.py), though its ids are.

    .venv/bin/python tests/test_conformance.py --update   # regenerate the table from a server
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_cpp_client import build_cpp_client
from test_csharp_client import build_csharp, run_nunit, start_http_server

TABLE = Path(__file__).with_name("conformance.json")
ROOT = Path(__file__).resolve().parents[1]

# The requests of the table (its expected answers come from the server with --update). Every
# category of both models, and each option kind: ints, a float, enums, a string.
REQUESTS = [
    *({"model": "procedural", "category": c, "seed": 11 + i,
       "options": {"max_triangles": 2000, "texture_size": 64}}
      for i, c in enumerate(["chair", "table", "vase", "column", "bench", "lamp"])),
    {"model": "procedural", "category": "chair", "seed": 4242,
     "options": {"max_triangles": 1500, "lod_count": 2, "size_m": 1.25,
                 "pivot": "PIVOT_CENTER", "material": "marble", "texture_size": 64}},
    *({"model": "texture-gan", "category": c, "seed": 30 + i, "options": {"texture_size": 64}}
      for i, c in enumerate(["brick", "grass", "gravel", "marble", "wood", "stone", "fabric"])),
    {"model": "texture-gan", "category": "wood", "seed": 77,
     "options": {"texture_size": 128, "normal_convention": "NORMAL_CONVENTION_DIRECTX"}},
]


def load_table() -> list[dict]:
    return json.loads(TABLE.read_text())["cases"]


def expected(case: dict) -> dict:
    return {"asset_id": case["asset_id"], "files": case["files"]}


def python_results(address: str, cases: list[dict]) -> list[dict]:
    import hashlib

    from vitrine import Client

    results = []
    with Client(address, timeout=120) as client:
        for c in cases:
            asset = client.generate(c["model"], c["category"], c["seed"], **c.get("options", {}))
            results.append({"asset_id": asset.asset_id,
                            "files": {n: hashlib.sha256(d).hexdigest()
                                      for n, d in asset.files.items()}})
    return results


@pytest.fixture(scope="module")
def live_both(tmp_path_factory):
    # No per-client rate limit: four clients' worth of calls from one address in seconds is
    # this test's load, not a client misbehaving (test_csharp_client.py tests the limit).
    server = start_http_server(tmp_path_factory.mktemp("conformance"), client_rate=0)
    yield server
    server.stop()


def test_table_covers_every_category_of_both_models():
    cases = load_table()
    assert [{k: c[k] for k in ("model", "category", "seed", "options")} for c in cases] == \
        REQUESTS, "tests/conformance.json is stale: run tests/test_conformance.py --update"
    for c in cases:
        assert len(c["asset_id"]) == 32 and c["files"]
        assert all(len(h) == 64 for h in c["files"].values())


def test_python_client(live_both):
    cases = load_table()
    assert python_results(live_both.address, cases) == [expected(c) for c in cases]


def test_node_client(live_both):
    cases = load_table()
    done = subprocess.run(["node", str(ROOT / "tests" / "support" / "conformance_node.mjs"),
                           live_both.address, str(TABLE)], check=False, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-4000:]
    got = [json.loads(line) for line in done.stdout.splitlines()]
    assert got == [expected(c) for c in cases]


def test_cpp_client(live_both):
    cases = load_table()
    example = build_cpp_client() / "vitrine_cpp_example"
    lines = "".join(json.dumps({k: c[k] for k in ("model", "category", "seed", "options")}) +
                    "\n" for c in cases)
    done = subprocess.run([str(example), "--address", live_both.address, "conformance"],
                          input=lines, check=False, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-4000:]
    got = [json.loads(line) for line in done.stdout.splitlines()]
    assert got == [expected(c) for c in cases]


def test_csharp_client(live_both):
    out = run_nunit(build_csharp(), f"http://127.0.0.1:{live_both.running.http_port}",
                    "-run=Vitrine.Client.Tests.CoreTests.ConformanceTable")
    assert "Tests run: 1," in out


def update() -> None:
    """Regenerates the table's answers from a fresh server through the Python client."""
    from conftest import LiveServer

    from server.config import ServerConfig

    with tempfile.TemporaryDirectory() as tmp:
        server = LiveServer(ServerConfig(address="127.0.0.1:0", data_dir=Path(tmp) / "data",
                                         models=("procedural", "texture-gan")))
        try:
            results = python_results(server.address, REQUESTS)
        finally:
            server.stop()
    cases = [r | a for r, a in zip(REQUESTS, results)]
    TABLE.write_text(json.dumps({
        "about": "Golden requests every client runs (tests/test_conformance.py): the same "
                 "request must give the same asset id and file bytes in Python, Node, C++ and "
                 "C#. Regenerate with `.venv/bin/python tests/test_conformance.py --update`.",
        "cases": cases}, indent=1) + "\n")
    print(f"wrote {len(cases)} cases to {TABLE}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--update", action="store_true", help="regenerate the table")
    if parser.parse_args().update:
        sys.path.insert(0, str(ROOT))
        update()
    else:
        parser.print_help()
