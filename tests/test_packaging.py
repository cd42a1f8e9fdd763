"""The Python client installs alone: a fresh venv with `pip install ./clients/python` has the
`vitrine` client verbs and no torch, and talks to a server run from the main venv."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CLIENT = ROOT / "clients" / "python"


@pytest.fixture(scope="module")
def client_venv(tmp_path_factory):
    """A venv (no system site-packages) with the client installed from a copy of
    clients/python, non-editable, as a user would; pip may fetch grpcio and protobuf wheels
    (about 8 s here with pip's cache)."""
    tmp = tmp_path_factory.mktemp("client-venv")
    # Build from a clean copy: an in-tree build would leave build/ in the checkout, and a
    # stale build/lib could ship a module that no longer exists.
    src = tmp / "src"
    shutil.copytree(CLIENT, src, ignore=shutil.ignore_patterns(
        "build", "*.egg-info", "__pycache__"))
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    py = venv / "bin" / "python"
    r = subprocess.run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                        str(src)], capture_output=True, text=True, timeout=300, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    return venv


def in_venv(venv: Path, *argv: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "VITRINE_ADDRESS")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    # cwd outside the checkout: nothing of the repository is importable by accident.
    return subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False,
                          cwd=cwd, env=env)


def test_the_client_venv_has_no_torch_and_no_server(client_venv, tmp_path):
    py = str(client_venv / "bin" / "python")
    for module in ("torch", "numpy", "open3d", "server", "generators"):
        r = in_venv(client_venv, py, "-c", f"import {module}", cwd=tmp_path)
        assert r.returncode != 0 and "ModuleNotFoundError" in r.stderr, module
    r = in_venv(client_venv, py, "-c", "import vitrine, vitrine.v1.assets_pb2 as pb; "
                "print(vitrine.__file__, pb.Options.DESCRIPTOR.full_name)", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    installed, name = r.stdout.split()
    assert str(client_venv) in installed and name == "vitrine.v1.Options"
    # The operations verbs come with the server package only.
    r = in_venv(client_venv, "vitrine", "-h", cwd=tmp_path)
    assert r.returncode == 0 and "generate" in r.stdout, r.stderr
    r = in_venv(client_venv, "vitrine", "serve", cwd=tmp_path)
    assert r.returncode == 2 and "invalid choice: 'serve'" in r.stderr


def test_the_client_venv_lists_and_generates_against_a_server(client_venv, live, client,
                                                              tmp_path):
    r = in_venv(client_venv, "vitrine", "models", "--address", live.address, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "procedural" in r.stdout and "chair" in r.stdout
    r = in_venv(client_venv, "vitrine", "generate", "procedural", "-c", "chair", "--seed", "1",
                "--max-triangles", "500", "--lod-count", "1", "-o", "out/",
                "--address", live.address, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("asset ") and "seed 1 " in r.stdout
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["lod0.glb"]
    # The same bytes the main venv's client gets for the same request.
    same = client.generate("procedural", "chair", seed=1, max_triangles=500, lod_count=1)
    assert (tmp_path / "out" / "lod0.glb").read_bytes() == same.files["lod0.glb"]
    r = in_venv(client_venv, "vitrine", "models", "--address", "127.0.0.1:1", "--timeout", "5",
                cwd=tmp_path)
    assert r.returncode == 3 and "cannot reach a vitrine server" in r.stderr
