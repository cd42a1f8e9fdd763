"""The C++ client core (clients/cpp): configure, build into build/cpp (incremental) and run its
ctest suite, which starts `vitrine serve` on an ephemeral port itself."""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "clients" / "cpp"
BUILD = ROOT / "build" / "cpp"
log = logging.getLogger(__name__)


def build_cpp_client() -> Path:
    """Configure (once) and build the client core, its example and its tests; returns the build
    folder. Prints the build time, which a warm build keeps to seconds."""
    start = time.perf_counter()
    # A configure that failed (e.g. before the Debian packages were there) leaves a cache but
    # no Makefile: configure again.
    if not (BUILD / "Makefile").exists():
        subprocess.run(["cmake", "-S", SOURCE, "-B", BUILD, "-DCMAKE_BUILD_TYPE=RelWithDebInfo",
                        f"-DVITRINE_SERVE={Path(sys.executable).parent / 'vitrine'}"],
                       check=True, capture_output=True, text=True)
    done = subprocess.run(["cmake", "--build", BUILD, "-j2"], check=False,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    print(f"C++ client build: {time.perf_counter() - start:.1f} s")
    return BUILD


def test_ctest_suite_passes_against_a_live_server():
    build = build_cpp_client()
    start = time.perf_counter()
    done = subprocess.run(["ctest", "--output-on-failure", "--timeout", "120"], cwd=build,
                          check=False, capture_output=True, text=True)
    print(f"ctest: {time.perf_counter() - start:.1f} s")
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert "100% tests passed" in done.stdout
    # Every case ran (a case left out of the list would silently not be tested).
    for case in ("every_category", "bad_option", "resume_from_offset", "resume_broken_stream",
                 "cancel_mid_stream", "deadline", "async_tick", "batch", "options_from_text",
                 "progressive"):
        assert f"{case} " in done.stdout, case


def test_unreal_plugin_core_copy_is_complete(tmp_path):
    """The Unreal plugin compiles the core from the copy Scripts/sync_core.sh makes: it must
    hold everything client.cpp needs (headers, fresh stubs) and nothing stale."""
    import json

    plugin = ROOT / "clients" / "unreal" / "Vitrine"
    dest = tmp_path / "VitrineCore"
    done = subprocess.run(["sh", plugin / "Scripts" / "sync_core.sh"], check=False,
                          capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", "VITRINE_CORE_DEST": str(dest)})
    assert done.returncode == 0, done.stderr
    assert (dest / "gen" / "vitrine" / "v1" / "assets.grpc.pb.cpp").is_file()
    assert not list(dest.rglob("*.pb.cc"))  # renamed for UnrealBuildTool
    compiled = subprocess.run(["g++", "-std=c++17", "-fsyntax-only", "-I", dest / "include",
                               "-I", dest / "gen", dest / "src" / "client.cpp"],
                              check=False, capture_output=True, text=True)
    assert compiled.returncode == 0, compiled.stderr[-3000:]
    descriptor = json.loads((plugin / "Vitrine.uplugin").read_text())
    assert [m["Name"] for m in descriptor["Modules"]] == ["Vitrine"]
    assert (plugin / "Source" / "Vitrine" / "Vitrine.Build.cs").is_file()
