"""A Render stream from the Node client (written from render.proto alone) against the server."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import start_server

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "clients" / "node" / "vitrine_client.mjs"

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or not (ROOT / "node_modules" / "@grpc" / "grpc-js").exists(),
    reason="needs node and `npm ci` (make test runs it)",
)


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    from generators.core.registry import load_models

    models = load_models(["procedural", "neural-render"])
    server = start_server(tmp_path_factory.mktemp("node-render"), models)
    yield server
    server.stop()


def node(live, *args):
    return subprocess.run(["node", str(SCRIPT), "--address", live.address, *args],
                          capture_output=True, text=True, timeout=300, check=False)


def test_node_renders_an_orbit_over_one_stream(live, tmp_path):
    from vitrine import Client

    with Client(live.address, timeout=120) as c:
        aid = c.generate("procedural", "vase", seed=9, max_triangles=1500, lod_count=1,
                         texture_size=64).asset_id
    out = tmp_path / "frames"
    r = node(live, "render", f"{aid}@0.1,0,30", "--frames", "12", "--size", "64", "-o",
             str(out))
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout.strip().splitlines()[-1])
    assert s["ok"] and s["poses_sent"] == 12 and s["mime_type"] == "image/jpeg"
    assert s["pose_indices"][-1] == 11 and s["pose_indices"] == sorted(s["pose_indices"])
    assert s["frames"] + s["dropped_poses"] == 12
    files = sorted(out.glob("frame_*.jpg"))
    assert len(files) == s["frames"] and files[0].read_bytes()[:2] == b"\xff\xd8"


def test_node_reports_an_unknown_asset_as_refused(live, tmp_path):
    r = node(live, "render", "f" * 32, "--frames", "2", "--size", "64", "-o", str(tmp_path))
    assert r.returncode == 1
    assert "NOT_FOUND" in r.stderr and "session.objects[0].asset_id" in r.stderr
    r = node(live, "render", "f" * 32, "--size", "64", "--image-format", "gif", "-o", "x")
    assert r.returncode == 2 and "--image-format" in r.stderr
