"""The Unity package's C# core (clients/unity/com.vitrine.client/Runtime/Core): compiled with
Mono's mcs into build/csharp and tested with NUnit 2.6 (Debian's nunit-console) against a live
server's HTTP face. The conformance table's C# run is in test_conformance.py."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest
from conftest import LiveServer

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "clients" / "unity" / "com.vitrine.client"
TESTS = ROOT / "clients" / "unity" / "tests"
BUILD = ROOT / "build" / "csharp"
NUNIT = Path("/usr/lib/cli/nunit.framework-2.6.3/nunit.framework.dll")
MODELS = ("procedural", "texture-gan")


def _stale(target: Path, sources: list[Path]) -> bool:
    return not target.exists() or max(s.stat().st_mtime for s in sources) > target.stat().st_mtime


def _mcs(out: Path, sources: list[Path], refs: list[str]) -> None:
    done = subprocess.run(["mcs", "-langversion:7", "-target:library", "-warnaserror+",
                           f"-out:{out}", *[f"-r:{r}" for r in refs], *map(str, sources)],
                          check=False, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def build_csharp() -> Path:
    """Vitrine.Client.dll (the core, UnityEngine-free) and Vitrine.Client.Tests.dll; rebuilt
    only when a source changed. Returns the test assembly."""
    start = time.perf_counter()
    BUILD.mkdir(parents=True, exist_ok=True)
    core = sorted((PACKAGE / "Runtime" / "Core").glob("*.cs"))
    lib = BUILD / "Vitrine.Client.dll"
    if _stale(lib, core):
        _mcs(lib, core, ["System.Net.Http.dll"])
    tests = sorted(TESTS.glob("*.cs"))
    test_lib = BUILD / "Vitrine.Client.Tests.dll"
    if _stale(test_lib, [*tests, lib]):
        _mcs(test_lib, tests, ["System.Net.Http.dll", str(NUNIT), str(lib)])
    print(f"C# build: {time.perf_counter() - start:.1f} s")
    return test_lib


def bone_table() -> Path:
    """generators/humanoid/rig.py's bone table, for the joints its model card lists, as JSON
    rows (unreal, mixamo, vrm, HumanBodyBones or "") for the C# table's test."""
    from generators.humanoid import rig

    card = (ROOT / "generators" / "humanoid" / "MODEL_CARD.md").read_text()
    section = card.split("| unreal | mixamo |", 1)[1].split("\n\n", 1)[0]
    names = [line.split("|")[1].strip() for line in section.splitlines()[2:]
             if line.startswith("|")]
    out = BUILD / "bone_table.json"
    out.write_text(json.dumps([list(row) for row in rig.bone_table(names)]))
    return out


def run_nunit(test_lib: Path, http_url: str, *args: str, limited: str = "",
              table: Path | None = None) -> str:
    """Runs nunit-console on the test assembly (the conformance table: `table`, by default
    tests/conformance.json); returns its output, asserting no failures."""
    env = os.environ | {"VITRINE_HTTP_URL": http_url, "VITRINE_BONE_TABLE": str(bone_table()),
                        "VITRINE_CONFORMANCE": str(table or ROOT / "tests" / "conformance.json"),
                        "VITRINE_LIMITED_HTTP_URL": limited}
    done = subprocess.run(["nunit-console", "-nologo", "-noresult", "-nothread", str(test_lib),
                           *args], check=False, capture_output=True, text=True, env=env,
                          cwd=BUILD, timeout=300)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-6000:]
    m = re.search(r"Tests run: (\d+), Errors: (\d+), Failures: (\d+)", out)
    assert m and m.group(2) == m.group(3) == "0" and int(m.group(1)) > 0, out[-6000:]
    return out


def start_http_server(tmp_path: Path, **overrides) -> LiveServer:
    """Both faces on free ports with the two models whose bytes are the same on every CPU."""
    from server.config import ServerConfig

    return LiveServer(ServerConfig(address="127.0.0.1:0", http_address="127.0.0.1:0",
                                   data_dir=tmp_path / "data", models=MODELS, **overrides))


@pytest.fixture(scope="module")
def http_live(tmp_path_factory):
    server = start_http_server(tmp_path_factory.mktemp("cs"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def limited_live(tmp_path_factory):
    server = start_http_server(tmp_path_factory.mktemp("cs-limited"), client_rate=1.0,
                               client_burst=1)
    yield server
    server.stop()


def test_nunit_suite_passes_against_the_http_face(http_live, limited_live):
    test_lib = build_csharp()
    out = run_nunit(test_lib, f"http://127.0.0.1:{http_live.running.http_port}",
                    "-exclude=conformance",
                    limited=f"http://127.0.0.1:{limited_live.running.http_port}")
    assert re.search(r"Tests run: (\d+)", out).group(1) == "9", out[-3000:]


def test_unity_package_is_complete_by_upm_conventions():
    """What Unity checks when it imports the package (it cannot run here): a manifest with a
    reverse-DNS name and a version, asmdefs whose references resolve, a .meta (unique guid) for
    every file and folder Unity imports (git-URL packages are immutable: Unity ignores assets
    without one), and a core that does not touch UnityEngine."""
    manifest = json.loads((PACKAGE / "package.json").read_text())
    assert manifest["name"] == "com.vitrine.client" and re.fullmatch(r"\d+\.\d+\.\d+",
                                                                      manifest["version"])
    assert all((PACKAGE / s["path"]).is_dir() for s in manifest["samples"])
    asmdefs = {p: json.loads(p.read_text()) for p in PACKAGE.rglob("*.asmdef")}
    names = {a["name"] for a in asmdefs.values()}
    assert names == {"Vitrine.Client.Core", "Vitrine.Runtime"}
    core = asmdefs[PACKAGE / "Runtime" / "Core" / "Vitrine.Client.Core.asmdef"]
    assert core["noEngineReferences"] and core["references"] == []
    runtime = asmdefs[PACKAGE / "Runtime" / "Vitrine.Runtime.asmdef"]
    assert set(runtime["references"]) == {"Vitrine.Client.Core", "glTFast"}
    guids = []
    for path in PACKAGE.rglob("*"):
        parts = path.relative_to(PACKAGE).parts
        if path.suffix == ".meta" or any(p.endswith("~") or p.startswith(".") for p in parts):
            continue
        meta = path.with_name(path.name + ".meta")
        assert meta.is_file(), f"{path.relative_to(PACKAGE)} has no .meta"
        guids.append(re.search(r"^guid: ([0-9a-f]{32})$", meta.read_text(),
                               re.MULTILINE).group(1))
    assert len(guids) == len(set(guids)) > 10
    for source in (PACKAGE / "Runtime" / "Core").glob("*.cs"):
        code = re.sub(r"//.*", "", source.read_text())  # comments may name it
        assert not re.search(r"\busing\s+UnityEngine|UnityEngine\.", code), source.name
