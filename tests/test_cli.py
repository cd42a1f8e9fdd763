"""The `vitrine` command, and determinism across two independent server processes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

VITRINE = [sys.executable, "-m", "vitrine.cli"]


def run(*args, **kw):
    return subprocess.run([*VITRINE, *args], capture_output=True, text=True, timeout=300, check=False,
                          **kw)


class ServerProcess:
    def __init__(self, tmp: Path):
        self.port_file = tmp / "port"
        self.proc = subprocess.Popen(
            [*VITRINE, "serve", "--address", "127.0.0.1:0", "--data-dir", str(tmp / "data"),
             "--port-file", str(self.port_file)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 60
        while not self.port_file.exists() or not self.port_file.read_text():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server did not start: {self.proc.stdout.read()}")
            time.sleep(0.1)
        self.address = f"127.0.0.1:{self.port_file.read_text()}"

    def stop(self) -> str:
        self.proc.terminate()
        out, _ = self.proc.communicate(timeout=60)
        return out


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    a = ServerProcess(tmp_path_factory.mktemp("a"))
    b = ServerProcess(tmp_path_factory.mktemp("b"))
    yield a, b
    for s in (a, b):
        log = s.stop()
        assert s.proc.returncode == 0, log
        assert "stopped" in log  # graceful shutdown on SIGTERM


def test_same_request_same_bytes_in_two_processes(servers, tmp_path):
    outs = []
    for i, server in enumerate(servers):
        out = tmp_path / str(i)
        r = run("generate", "procedural", "--category", "chair", "--seed", "42",
                "--max-triangles", "5000", "-o", str(out), "--address", server.address)
        assert r.returncode == 0, r.stderr
        assert "seed 42" in r.stdout
        outs.append({p.name: p.read_bytes() for p in sorted(out.iterdir())})
    assert list(outs[0]) == ["lod0.glb", "lod1.glb", "lod2.glb"]
    assert outs[0] == outs[1]


def test_models_lists_categories_and_ranges(servers):
    r = run("models", "--address", servers[0].address)
    assert r.returncode == 0, r.stderr
    assert "procedural" in r.stdout and "chair" in r.stdout and "1 to 4" in r.stdout


def test_refused_request_names_the_field(servers):
    r = run("generate", "procedural", "-c", "chair", "--lod-count", "9",
            "--address", servers[0].address)
    assert r.returncode == 1
    assert "options.lod_count: got 9; allowed: 1 to 4" in r.stderr


def test_unknown_category_lists_known(servers):
    r = run("generate", "procedural", "-c", "dragon", "--address", servers[0].address)
    assert r.returncode == 1 and "categories: chair" in r.stderr


def test_server_down_is_a_clear_message():
    r = run("models", "--address", "127.0.0.1:1", "--timeout", "5")
    assert r.returncode == 3
    assert "cannot reach a vitrine server at 127.0.0.1:1" in r.stderr and "make serve" in r.stderr


def test_serve_on_a_busy_port_fails_clearly(servers, tmp_path):
    r = run("serve", "--address", servers[0].address, "--data-dir", str(tmp_path))
    assert r.returncode == 2 and "Pick another --address" in r.stderr


def test_fetch_command(servers, tmp_path):
    env = {**os.environ, "VITRINE_ADDRESS": servers[1].address}
    r = run("generate", "procedural", "-c", "vase", "--seed", "3", "--resolution", "48",
            "-o", str(tmp_path / "g"), env=env)
    assert r.returncode == 0, r.stderr
    asset_id = r.stdout.split()[1]
    r = run("fetch", asset_id, "-o", str(tmp_path / "f"), env=env)
    assert r.returncode == 0, r.stderr
    for p in (tmp_path / "g").iterdir():
        assert (tmp_path / "f" / p.name).read_bytes() == p.read_bytes()


def test_dataset_build_reports_bad_files_and_writes_a_trainable_set(tmp_path):
    import trimesh

    from generators.data.mesh_set import load_voxel_set

    (tmp_path / "crate").mkdir()
    (tmp_path / "barrel").mkdir()
    trimesh.creation.box((1, 0.6, 0.8)).export(tmp_path / "crate" / "a.stl")
    trimesh.creation.cylinder(0.4, 1.0).export(tmp_path / "barrel" / "b.ply")
    (tmp_path / "barrel" / "broken.obj").write_text("v 0 0 0\nf 9 9 9\n")
    out = tmp_path / "set.npz"
    r = run("dataset", "build", str(tmp_path / "crate"), str(tmp_path / "barrel"),
            "--res", "32", "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert "skipped" in r.stderr and "broken.obj" in r.stderr
    assert "2 shapes" in r.stdout and "vitrine train voxel-gan --data" in r.stdout
    data = load_voxel_set(out)
    assert data.categories == ("barrel", "crate") and data.voxels.shape == (2, 32, 32, 32)

    r = run("dataset", "build", str(tmp_path / "nowhere"), "-o", str(out))
    assert r.returncode == 2 and "no such file" in r.stderr


def test_train_and_eval_name_the_models_they_know(tmp_path):
    r = run("train", "mystery-gan")
    assert r.returncode == 2 and "voxel-gan" in r.stderr
    r = run("eval", "voxel-gan", "--run", str(tmp_path))
    assert r.returncode == 2 and "vitrine train voxel-gan" in r.stderr


def test_variations_and_morphs_are_one_batch_saved_per_asset(servers, tmp_path):
    address = servers[0].address
    r = run("generate", "implicit-gan", "-c", "vase", "--seed", "7", "--variations", "3",
            "--spread", "0.4", "--resolution", "48", "--max-triangles", "2000",
            "--texture-size", "64", "--address", address, "-o", str(tmp_path / "v"))
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in (tmp_path / "v").iterdir()) == [
        "variation-0", "variation-1", "variation-2"]
    glbs = [(tmp_path / "v" / f"variation-{k}" / "lod0.glb").read_bytes() for k in range(3)]
    assert len(set(glbs)) == 3
    r = run("generate", "implicit-gan", "-c", "vase", "--seed", "7", "--morph-to", "9",
            "--morph-steps", "3", "--resolution", "48", "--max-triangles", "2000",
            "--texture-size", "64", "--address", address, "-o", str(tmp_path / "m"))
    assert r.returncode == 0, r.stderr
    # The morph's first asset is the seed's own: the same bytes as variation 0.
    assert (tmp_path / "m" / "morph-0" / "lod0.glb").read_bytes() == glbs[0]


@pytest.mark.parametrize("args,message", [
    (["--variations", "3"], "need --seed"),
    (["--seed", "4", "--variations", "3", "--morph-to", "5"], "give one of them"),
    (["--seed", "4", "--variations", "0"], "--variations must be 1 to 256"),
    (["--seed", "4", "--morph-to", "5", "--morph-steps", "1"], "--morph-steps must be 2"),
])
def test_exploration_usage_errors_name_the_fix(args, message):
    r = run("generate", "implicit-gan", "-c", "vase", *args)
    assert r.returncode == 2 and message in r.stderr
