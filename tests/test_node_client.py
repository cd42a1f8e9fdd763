"""The Node client (written from the .proto alone) against the real server.

Checks that the wire contract is enough for a client in another language: it lists models,
generates, reassembles and verifies the files, and resumes with Fetch from an offset.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from support.gltf_validator import assert_valid_glb

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "clients" / "node" / "vitrine_client.mjs"

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or not (ROOT / "node_modules" / "@grpc" / "grpc-js").exists(),
    reason="needs node and `npm ci` (make test runs it)",
)


def node(live, *args):
    r = subprocess.run(["node", str(SCRIPT), "--address", live.address, *args],
                       capture_output=True, text=True, timeout=300, check=False)
    return r


def test_models_lists_the_procedural_model(live):
    r = node(live, "models")
    assert r.returncode == 0, r.stderr
    models = {m["name"]: m for m in json.loads(r.stdout)["models"]}
    assert "chair" in models["procedural"]["categories"]
    opts = {o["name"]: o for o in models["procedural"]["options"]}
    assert float(opts["max_triangles"]["max"]) == 500000


def test_generate_then_resume_with_fetch_gives_the_same_verified_files(live, tmp_path):
    out = tmp_path / "gen"
    r = node(live, "generate", "procedural", "--category", "lamp", "--seed", "12",
             "--max-triangles", "3000", "--resolution", "48", "-o", str(out))
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert summary["ok"] and summary["seed"] == "12"
    header = json.loads((out / "header.json").read_text())
    files = [out / f["name"] for f in header["files"]]
    for f, meta in zip(files, header["files"]):
        assert hashlib.sha256(f.read_bytes()).hexdigest() == meta["sha256"]
    assert_valid_glb([f.read_bytes() for f in files])

    # A download cut off in the middle of the last file: keep the prefix, fetch the rest.
    resumed = tmp_path / "resumed"
    resumed.mkdir()
    last = len(files) - 1
    cut = files[last].stat().st_size // 2
    for f in files[:last]:
        shutil.copy(f, resumed / f.name)
    (resumed / files[last].name).write_bytes(files[last].read_bytes()[:cut])
    r = node(live, "fetch", summary["asset_id"], "--file-index", str(last), "--offset",
             str(cut), "-o", str(resumed))
    assert r.returncode == 0, r.stderr
    for f in files:
        assert (resumed / f.name).read_bytes() == f.read_bytes()


def test_progressive_generate_writes_each_file_as_it_is_verified(live, tmp_path):
    """--progressive: on a miss the finer levels arrive as file parts; each file is written
    (and named on stderr) when verified, coarsest first; the files are the plain call's."""
    args = ("procedural", "--category", "vase", "--seed", "61", "--max-triangles", "3000",
            "--resolution", "48")
    r = node(live, "generate", *args, "--progressive", "-o", str(tmp_path / "p"))
    assert r.returncode == 0, r.stderr
    written = [line.split(":")[0] for line in r.stderr.splitlines() if "verified" in line]
    assert written == ["lod2.glb", "lod1.glb", "lod0.glb"]
    header = json.loads((tmp_path / "p" / "header.json").read_text())
    assert [f["name"] for f in header["files"]] == written and header["file_count"] == 3
    r = node(live, "generate", *args, "-o", str(tmp_path / "plain"))  # a cache hit now
    assert r.returncode == 0, r.stderr
    for name in written:
        assert (tmp_path / "p" / name).read_bytes() == (tmp_path / "plain" / name).read_bytes()


def test_refused_request_exits_1_naming_the_field(live, tmp_path):
    r = node(live, "generate", "procedural", "--category", "chair", "--max-triangles", "7",
             "-o", str(tmp_path / "x"))
    assert r.returncode == 1, r.stderr
    assert "max_triangles" in r.stderr and "INVALID_ARGUMENT" in r.stderr


def test_exit_codes_are_the_python_clis(live, tmp_path):
    """1 refused (NOT_FOUND too), 2 usage, 3 unreachable: as `vitrine` exits."""
    r = node(live, "generate", "procedural", "--category", "dragon", "-o", str(tmp_path))
    assert r.returncode == 1 and "NOT_FOUND" in r.stderr, r.stderr
    r = node(live, "fetch", "0" * 32, "-o", str(tmp_path))
    assert r.returncode == 1 and "NOT_FOUND" in r.stderr, r.stderr
    r = node(live, "generate", "procedural", "--category", "chair", "--seed",
             "9223372036854775808", "-o", str(tmp_path))
    assert r.returncode == 2 and "from 0 to 2^63-1" in r.stderr
    r = node(live, "generate", "procedural", "--category", "chair", "--colour", "red")
    assert r.returncode == 2
    r = subprocess.run(["node", str(SCRIPT), "--address", "127.0.0.1:1", "--timeout", "5",
                        "models"], capture_output=True, text=True, timeout=60, check=False)
    assert r.returncode == 3 and "UNAVAILABLE" in r.stderr


def test_option_flags_are_the_proto_fields(live, tmp_path):
    """Every field of vitrine.v1.Options is a flag (read from the .proto); values reach the
    server: --pivot center puts the origin at the middle of the bounds."""
    from vitrine.v1 import assets_pb2 as pb

    r = node(live, "--help")
    assert r.returncode == 0
    for f in pb.Options.DESCRIPTOR.fields:
        assert f"--{f.name.replace('_', '-')} " in r.stdout, f.name
    out = tmp_path / "c"
    r = node(live, "generate", "procedural", "--category", "lamp", "--seed", "3",
             "--max-triangles", "600", "--lod-count", "1", "--pivot", "center", "-o", str(out))
    assert r.returncode == 0, r.stderr
    bounds = json.loads((out / "header.json").read_text())["bounds"]
    assert bounds["min"]["y"] == pytest.approx(-bounds["max"]["y"], abs=1e-3)
    assert bounds["min"]["y"] < 0


def test_token_and_ca_file_over_tls(tmp_path):
    import os

    from conftest import start_server
    from test_server_auth import TOKEN_A, _procedural, make_pki

    (tmp_path / "pki").mkdir()
    pki = make_pki(tmp_path / "pki")
    tokens = tmp_path / "tokens"
    tokens.write_text(f"{TOKEN_A} node-client\n")
    server = start_server(tmp_path, _procedural(), tls_cert=pki / "server.pem",
                          tls_key=pki / "server.key", auth_tokens=tokens)
    try:
        address = f"localhost:{server.running.port}"
        env = {k: v for k, v in os.environ.items() if k != "VITRINE_TOKEN"}

        def run(*args, extra_env=None):
            return subprocess.run(["node", str(SCRIPT), "--address", address, *args],
                                  capture_output=True, text=True, timeout=120, check=False,
                                  env=env | (extra_env or {}))

        r = run("--ca-file", str(pki / "ca.pem"), "models")
        assert r.returncode == 1 and "UNAUTHENTICATED" in r.stderr, r.stderr
        r = run("--ca-file", str(pki / "ca.pem"), "--token", TOKEN_A, "models")
        assert r.returncode == 0, r.stderr
        assert "procedural" in {m["name"] for m in json.loads(r.stdout)["models"]}
        out = tmp_path / "out"
        r = run("--ca-file", str(pki / "ca.pem"), "generate", "procedural", "--category",
                "chair", "--seed", "3", "--max-triangles", "500", "--resolution", "32",
                "-o", str(out), extra_env={"VITRINE_TOKEN": TOKEN_A})
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout.strip().splitlines()[-1])["ok"]
        r = run("--token", TOKEN_A, "models")  # plaintext to the TLS port
        assert r.returncode == 3, r.stderr
    finally:
        server.stop()
