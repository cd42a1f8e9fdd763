"""One table of golden requests (tests/conformance.json: model, category, seed, options ->
asset id and each file's sha256) run through all four clients against one live server: the
Python client, the Node client, the C++ core (its example's `conformance` mode) and the Unity
package's C# core (NUnit, over the HTTP face). None may drift from the server or the others.

Only `procedural` and `texture-gan` requests: their bytes are the same on most CPUs; a learned
model's floats are not (tests/test_golden.py), though its ids are. Not on every CPU: one
procedural column's bytes differ between an AVX-512 and an AVX2 EPYC (not traced; numpy's
SIMD sin, cos and exp differ between those instruction sets in the last bit, the likely
cause). So the clients are held to what this machine's pipeline makes (built in process, the
ids always the table's), and the table's bytes themselves are checked on the platform that
recorded them (`platform` in the table).

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


def built_here(cases: list[dict]) -> list[dict]:
    """Each case's asset id and file digests as this machine's pipeline makes them."""
    from generators.core.registry import load_models
    from generators.pipeline import Pipeline

    pipe = Pipeline(load_models(["procedural", "texture-gan"]))
    out = []
    for c in cases:
        built = pipe.build([pipe.prepare(c["model"], c["category"], c["seed"],
                                         _enums(c["options"]))])[0]
        out.append({"asset_id": built.job.asset_id,
                    "files": {f.name: f.sha256 for f in built.files}})
    return out


def _enums(options: dict) -> dict:
    """The table's options as `Pipeline.prepare` takes them (enum names without the prefix, as
    the server's conversion gives them)."""
    from vitrine.v1 import assets_pb2 as pb

    from server.convert import options_from_proto

    return options_from_proto(pb.Options(**options))


@pytest.fixture(scope="module")
def here(tmp_path_factory):
    """(this machine's expected answers, a copy of the table holding them, for the C# test)."""
    cases = load_table()
    got = built_here(cases)
    assert [g["asset_id"] for g in got] == [c["asset_id"] for c in cases], \
        "asset ids moved: run tests/test_conformance.py --update"
    path = tmp_path_factory.mktemp("conformance-here") / "conformance.json"
    table = json.loads(TABLE.read_text())
    table["cases"] = [c | g for c, g in zip(cases, got)]
    path.write_text(json.dumps(table))
    return got, path


def test_the_table_is_what_the_pipeline_makes(here):
    from test_golden import platform

    got, _ = here
    cases = load_table()
    recorded_on = json.loads(TABLE.read_text()).get("platform")
    same = [g == expected(c) for g, c in zip(got, cases)]
    if recorded_on == platform():
        assert all(same), [c["category"] for c, ok in zip(cases, same) if not ok]
    else:  # another CPU: the ids hold (checked by the fixture); most bytes do too
        assert sum(same) >= len(cases) - 2, (
            f"{len(cases) - sum(same)} of {len(cases)} cases differ on {platform()} from the "
            f"table recorded on {recorded_on}")


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


def test_python_client(live_both, here):
    cases = load_table()
    assert python_results(live_both.address, cases) == here[0]


def test_node_client(live_both, here):
    done = subprocess.run(["node", str(ROOT / "tests" / "support" / "conformance_node.mjs"),
                           live_both.address, str(TABLE)], check=False, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-4000:]
    got = [json.loads(line) for line in done.stdout.splitlines()]
    assert got == here[0]


def test_cpp_client(live_both, here):
    cases = load_table()
    example = build_cpp_client() / "vitrine_cpp_example"
    lines = "".join(json.dumps({k: c[k] for k in ("model", "category", "seed", "options")}) +
                    "\n" for c in cases)
    done = subprocess.run([str(example), "--address", live_both.address, "conformance"],
                          input=lines, check=False, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-4000:]
    got = [json.loads(line) for line in done.stdout.splitlines()]
    assert got == here[0]


def test_csharp_client(live_both, here):
    out = run_nunit(build_csharp(), f"http://127.0.0.1:{live_both.running.http_port}",
                    "-run=Vitrine.Client.Tests.CoreTests.ConformanceTable", table=here[1])
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
    from test_golden import platform

    TABLE.write_text(json.dumps({
        "platform": platform(),
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
