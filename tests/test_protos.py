"""The committed Python stubs are exactly what protos/generate.py makes from the .proto."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_stubs_are_fresh(tmp_path):
    subprocess.run([sys.executable, str(ROOT / "protos" / "generate.py"), "--out", str(tmp_path)],
                   check=True, capture_output=True)
    fresh = sorted(p.relative_to(tmp_path) for p in (tmp_path / "vitrine" / "v1").glob("*.py*"))
    committed_dir = ROOT / "clients" / "python"
    committed = sorted(p.relative_to(committed_dir)
                       for p in (committed_dir / "vitrine" / "v1").glob("*.py*"))
    assert fresh == committed, "stub file set differs: run `make protos`"
    for rel in fresh:
        assert (tmp_path / rel).read_bytes() == (committed_dir / rel).read_bytes(), (
            f"{rel} is stale: run `make protos` (python protos/generate.py)")


def test_every_rpc_and_message_field_is_commented():
    # The .proto is the documentation for other-language clients.
    lines = (ROOT / "protos" / "vitrine" / "v1" / "assets.proto").read_text().splitlines()
    for i, line in enumerate(lines):
        if line.strip().startswith("rpc "):
            assert lines[i - 1].strip().startswith("//"), f"rpc without a comment: {line}"
