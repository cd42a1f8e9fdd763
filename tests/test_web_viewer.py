"""The web viewer (clients/web) in Debian's headless Chromium, against the live server.

The server runs with its HTTP face on a loopback port and serves the viewer at /viewer/;
tests/support/web_viewer.mjs (playwright-core) opens a URL, waits for `window.vitrine.ready`
and reports the viewer's stats, the scene's object names, console and page errors, every
HTTP response, and a screenshot, which is checked for painted pixels.

VITRINE_VIEWER_PNG=docs/viewer.png keeps the 24-exhibit gallery's screenshot (the README's).
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from conftest import start_server
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
DRIVER = ROOT / "tests" / "support" / "web_viewer.mjs"
BUILD = ROOT / "clients" / "web" / "build.mjs"
BACKGROUND = np.array([0x1D, 0x1F, 0x24])  # the page's clear colour (clients/web)
PANEL = (380, 300)  # px (height, width) of the UI panel at the top left, left out of counts
EYE_HEIGHT = 1.6
# Chromium's own notes about SwiftShader (GPU stalls on read-back), not the page's.
DRIVER_NOISE = ("GL Driver Message",)
SMALL = "max_triangles=3000&resolution=48&texture_size=128"  # quick props


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    from generators.core import registry

    # the gallery and the prop models its exhibits come from (finer=1 asks them directly)
    models = registry.load_models(["procedural", "voxel-gan", "implicit-gan", "gallery"])
    server = start_server(tmp_path_factory.mktemp("web"), models, http_address="127.0.0.1:0")
    yield f"http://127.0.0.1:{server.running.http_port}"
    server.stop()


def browse(base: str, query: str, tmp_path: Path, *args: str, timeout_s: float = 60) -> dict:
    png = tmp_path / "shot.png"
    r = subprocess.run(["node", str(DRIVER), f"{base}/viewer/?{query}", "--screenshot", str(png),
                        "--timeout-ms", str(int(timeout_s * 1000)), *args],
                       capture_output=True, text=True, timeout=timeout_s + 60, check=False)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
    report = json.loads(r.stdout.strip().splitlines()[-1])
    report["png"] = png
    return report


def problems(report: dict) -> list[str]:
    """Console errors and warnings, page errors, failed requests and HTTP errors."""
    noise = [m for m in report["console"] if not any(n in m for n in DRIVER_NOISE)]
    http = [f"{h['status']} {h['url']}" for h in report["http"] if h["status"] >= 400]
    return noise + report["pageErrors"] + report["failedRequests"] + http


def painted(png: Path) -> tuple[float, int]:
    """(fraction of pixels outside the panel that are not the background, distinct colours)."""
    img = np.asarray(Image.open(png).convert("RGB")).astype(np.int32)  # [H, W, 3]
    keep = np.ones(img.shape[:2], bool)
    keep[:PANEL[0], :PANEL[1]] = False
    pixels = img[keep]  # [N, 3]
    fraction = float((np.abs(pixels - BACKGROUND).sum(-1) > 24).mean())
    colours = len(np.unique(pixels // 8, axis=0))  # 5 bits a channel: shading, not one flat fill
    return fraction, colours


def post_generate(base: str, body: dict) -> dict:
    req = urllib.request.Request(f"{base}/v1/generate", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=120) as resp:
        return json.load(resp)


def file_requests(report: dict, asset_id: str) -> list[str]:
    """The asset's files the browser fetched, in the order their answers arrived."""
    prefix = f"/v1/assets/{asset_id}/"
    return [h["url"].split(prefix, 1)[1] for h in report["http"] if prefix in h["url"]]


def test_vendored_three_is_what_node_modules_holds():
    r = subprocess.run(["node", str(BUILD), "--check"], capture_output=True, text=True,
                       timeout=60, check=False)
    assert r.returncode == 0, r.stderr
    vendor = ROOT / "clients" / "web" / "vendor" / "three"
    assert (vendor / "LICENSE").read_text().startswith("The MIT License")
    version = json.loads((ROOT / "node_modules" / "three" / "package.json").read_text())["version"]
    assert (vendor / "VERSION").read_text().startswith(f"three {version},")


def test_a_prop_streams_coarsest_lod_first_and_the_desktop_walks(base, tmp_path):
    report = browse(base, f"model=procedural&category=vase&seed=7&{SMALL}", tmp_path,
                    "--press", "KeyW:700")
    assert report["loaded"] == "ready", report
    assert problems(report) == []
    state, stats = report["state"], report["state"]["stats"]
    header = stats["header"]
    assert header["model"] == "procedural" and header["category"] == "vase"
    assert header["seed"] == "7"
    # coarsest first: every level shown in the header's order, each replacing the one before
    assert stats["lodOrder"] == [2, 1, 0] == [f["lod"] for f in header["files"]]
    assert [lod["name"] for lod in stats["lods"]] == ["lod2.glb", "lod1.glb", "lod0.glb"]
    assert file_requests(report, stats["assetId"]) == ["lod2.glb", "lod1.glb", "lod0.glb"]
    arrived = [lod["atMs"] for lod in stats["lods"]]
    assert arrived == sorted(arrived)
    assert [lod["bytes"] for lod in stats["lods"]] == [int(f["sizeBytes"]) for f in header["files"]]
    # what is on screen is the finest level (its triangles; the coarser ones were removed)
    assert stats["triangles"] == header["files"][-1]["triangles"]
    assert stats["meshes"] >= 1 and stats["lights"] == 0
    assert "SwiftShader" in stats["renderer"] and stats["environment"] is False
    assert "3,000 triangles" in state["status"] or f"{stats['triangles']:,}" in state["status"]
    assert "lod2.glb" in state["timings"] and "total" in state["timings"]
    # the panel's pickers come from /v1/models
    with urllib.request.urlopen(f"{base}/v1/models", timeout=30) as r:
        catalog = json.load(r)["models"]
    assert state["models"] == [m["name"] for m in catalog]
    assert "gallery" in state["models"]
    assert state["categories"] == ["chair", "table", "vase", "column", "bench", "lamp"]
    # WebXR: the Enter VR button is on the page (headless Chromium has no headset)
    assert state["vrButton"] in ("ENTER VR", "VR NOT SUPPORTED"), state["vrButton"]
    # W walked forward on the floor at eye height
    before, after = np.array(report["cameraBefore"]), np.array(state["camera"])
    assert after[1] == pytest.approx(EYE_HEIGHT)
    assert np.hypot(*(after - before)[[0, 2]]) > 0.3
    fraction, colours = painted(report["png"])
    assert fraction > 0.005 and colours > 30, (fraction, colours)


def test_an_asset_id_loads_that_assets_files(base, tmp_path):
    made = post_generate(base, {"model": "procedural", "category": "lamp", "seed": "5",
                                "options": {"max_triangles": 2000, "lod_count": 2,
                                            "resolution": 48, "texture_size": 64}})
    aid = made["header"]["assetId"]
    # env=1: the image-based fill that software WebGL leaves off by default, made anyway
    report = browse(base, f"asset={aid}&env=1", tmp_path)
    assert report["loaded"] == "ready", report
    assert problems(report) == []
    stats = report["state"]["stats"]
    assert stats["assetId"] == aid and stats["request"] == {"asset": aid}
    assert stats["environment"] is True
    assert stats["lodOrder"] == [1, 0]
    assert file_requests(report, aid) == ["lod1.glb", "lod0.glb"]
    assert not any("/v1/generate" in h["url"] for h in report["http"])  # fetched, not generated
    assert report["state"]["categories"][0] == "chair"  # the pickers show what it is
    fraction, colours = painted(report["png"])
    assert fraction > 0.005 and colours > 30, (fraction, colours)


def test_a_refused_request_shows_the_servers_message_then_the_panel_generates(base, tmp_path):
    report = browse(base, "model=procedural&category=dragon&seed=1", tmp_path,
                    "--generate", "category=vase&seed=2")
    assert report["loaded"].startswith("error: NOT_FOUND"), report["loaded"]
    refused = report["before"]
    assert refused["state"] == "error" and "dragon" in refused["error"]
    assert "chair" in refused["error"]  # the server's message lists the categories
    assert report["pageErrors"] == []
    # the one failed call, and the viewer saying why; nothing else went wrong
    assert [h["status"] for h in report["http"] if h["status"] >= 400] == [404]
    errors = [m for m in report["console"] if not any(n in m for n in DRIVER_NOISE)]
    assert any(m.startswith("error: vitrine: NOT_FOUND") for m in errors), errors
    assert all("404" in m or "vitrine: NOT_FOUND" in m for m in errors), errors
    # then the panel: vase, seed 2, Generate: the URL says what is shown
    assert report["loadedAfterGenerate"] == "ready"
    state = report["state"]
    assert state["stats"]["request"] == {"model": "procedural", "category": "vase", "seed": "2"}
    assert state["stats"]["lodOrder"] == [2, 1, 0]
    assert "model=procedural&category=vase&seed=2" in report["url"]
    assert state["status"].startswith("procedural vase seed 2")


def glb_json(data: bytes) -> dict:
    """The JSON chunk of a GLB (glTF 2.0 binary: 12-byte header, then the JSON chunk)."""
    magic, _, _ = struct.unpack_from("<4sII", data, 0)
    length, kind = struct.unpack_from("<I4s", data, 12)
    assert magic == b"glTF" and kind == b"JSON"
    return json.loads(data[20:20 + length])


def scene_exhibits(base: str, stats: dict) -> tuple[list[str], int]:
    """(the exhibit ids the scene GLB lists: nodes carrying their own asset id, its lights)."""
    (name,) = [f["name"] for f in stats["header"]["files"]]
    with urllib.request.urlopen(f"{base}/v1/assets/{stats['assetId']}/{name}", timeout=60) as r:
        doc = glb_json(r.read())
    ids = [n["name"] for n in doc["nodes"]
           if n.get("extras", {}).get("vitrine", {}).get("asset_id") == n["name"]]
    lights = sum("KHR_lights_punctual" in n.get("extensions", {}) for n in doc["nodes"])
    return ids, lights


def check_gallery(base: str, report: dict, exhibits: int) -> list[dict]:
    assert report["loaded"] == "ready", report
    assert problems(report) == []
    stats = report["state"]["stats"]
    assert stats["kind"] == "ASSET_KIND_SCENE" and stats["lodOrder"] == [0]
    ids, lights = scene_exhibits(base, stats)
    assert len(ids) == len(set(ids)) == exhibits
    # every exhibit is in the viewer's scene graph under its own asset id, with its request
    shown = {e["id"]: e for e in stats["exhibits"]}
    assert sorted(shown) == sorted(ids)
    assert set(ids) <= set(report["state"]["names"])
    for e in shown.values():
        req = e["extras"]["vitrine"]["request"]
        assert req["model"] in ("procedural", "voxel-gan", "implicit-gan"), req
        assert e["position"][1] > 0  # on its plinth, above the floor
    assert stats["lights"] == lights > exhibits  # a spot per exhibit plus the fills
    assert f"{exhibits} exhibits" in report["state"]["status"]
    # a lit hall fills the view: floor, walls and ceiling, shaded
    fraction, colours = painted(report["png"])
    assert fraction > 0.8 and colours > 300, (fraction, colours)
    return stats["exhibits"]


def test_a_gallery_holds_every_exhibit_the_glb_lists_and_swaps_in_finer_ones(base, tmp_path):
    report = browse(base, "model=gallery&category=design&seed=2&exhibits=6&finer=1", tmp_path,
                    "--width", "960", "--height", "540", timeout_s=90)
    exhibits = check_gallery(base, report, 6)
    state, stats = report["state"], report["state"]["stats"]
    assert state["categories"] == ["antiquities", "design", "sculpture-hall"]
    assert stats["request"]["finer"] is True
    # An exhibit's request, sent as it is, is that exhibit's own asset: its id names the node.
    req = exhibits[0]["extras"]["vitrine"]["request"]
    again = post_generate(base, {**req, "seed": str(req["seed"])})
    assert again["header"]["assetId"] == exhibits[0]["id"]
    # finer=1: each exhibit asked again without the hall's budget (lod_count, max_triangles,
    # texture_size): another asset of the same shape, its finer levels swapped in its place
    assert [f["id"] for f in stats["finer"]] == [e["id"] for e in exhibits]
    for f, e in zip(stats["finer"], exhibits):
        assert "error" not in f, f
        assert f["assetId"] != f["id"] and f["files"][-1] == "lod0.glb", f
        budget = e["extras"]["vitrine"]["request"]["options"]["max_triangles"]
        assert f["triangles"] > budget, (f, budget)
    assert "6 of 6 exhibits finer" in state["status"]
    assert "6 exhibits finer in" in state["timings"]


def test_a_24_exhibit_gallery_is_shown_whole(base, tmp_path):
    """The README's picture (VITRINE_VIEWER_PNG=docs/viewer.png keeps it)."""
    report = browse(base, "model=gallery&category=antiquities&seed=3&exhibits=24", tmp_path,
                    timeout_s=120)
    check_gallery(base, report, 24)
    target = os.environ.get("VITRINE_VIEWER_PNG")
    if target:
        shutil.copy(report["png"], ROOT / target)
