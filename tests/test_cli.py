"""The `vitrine` command's client verbs (models, generate, fetch), and determinism across two
independent server processes. The server's verbs (serve, train, export, eval, dataset,
reproduce) are tested in test_server_cli.py."""

from __future__ import annotations

import os
import re
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
    # Integers print as integers, even past a double's exact range (morph_seed: 1 to 2^63-1).
    assert "e+" not in r.stdout and "0 to 1000000" in r.stdout and "1 to 2^63-1" in r.stdout
    assert "bottom_center, center" in r.stdout  # enum values as the CLI takes them
    # One column for the defaults, whatever the length of a range or a list before it.
    options = [line for line in r.stdout.splitlines() if line.startswith("  --")]
    assert len(options) > 10
    rows = [re.fullmatch(r"  --\S+ +default (\(model decides\)|\S+) +(\S.*)", line)
            for line in options]
    assert all(rows), options
    assert len({line.index(" default ") for line in options}) == 1
    assert len({m.start(2) for m in rows}) == 1, options


def test_refused_request_names_the_field(servers):
    r = run("generate", "procedural", "-c", "chair", "--lod-count", "9",
            "--address", servers[0].address)
    assert r.returncode == 1
    assert "options.lod_count: got 9; allowed: 1 to 4" in r.stderr
    # Only the message: no progress-bar line ("0.00B [00:00, ?B/s]") before it.
    assert r.stderr.splitlines() == [next(line for line in r.stderr.splitlines()
                                          if line.startswith("vitrine: "))]


def test_success_leaves_no_progress_bar_and_reports_the_server_time(servers, tmp_path):
    r = run("generate", "procedural", "-c", "lamp", "--seed", "5", "--max-triangles", "800",
            "--lod-count", "2", "-o", str(tmp_path), "--address", servers[0].address)
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""  # not a terminal: no bar at all
    assert "B/s" not in r.stdout and "generated in " in r.stdout.splitlines()[0]


def test_unknown_category_lists_known(servers):
    r = run("generate", "procedural", "-c", "dragon", "--address", servers[0].address)
    assert r.returncode == 1 and "categories: chair" in r.stderr


def test_server_down_is_a_clear_message():
    r = run("models", "--address", "127.0.0.1:1", "--timeout", "5")
    assert r.returncode == 3
    assert "cannot reach a vitrine server at 127.0.0.1:1" in r.stderr and "make serve" in r.stderr


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


@pytest.mark.parametrize("seed", ["-3", "12345678901234567890", "9223372036854775808", "x"])
def test_a_seed_out_of_range_is_a_usage_error(seed):
    r = run("generate", "procedural", "-c", "chair", "--seed", seed, "--address", "127.0.0.1:1")
    assert r.returncode == 2, r.stderr
    assert "argument --seed: must be an integer from 0 to 2^63-1" in r.stderr
    assert "Traceback" not in r.stderr


def test_an_option_out_of_its_wire_range_is_a_usage_error():
    r = run("generate", "procedural", "-c", "chair", "--max-triangles", "-1",
            "--address", "127.0.0.1:1")
    assert r.returncode == 2 and "from 0 to 4294967295" in r.stderr
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize("args,message", [
    (["--variations", "3"], "need --seed"),
    (["--seed", "4", "--variations", "3", "--morph-to", "5"], "give one of them"),
    (["--seed", "4", "--variations", "0"], "--variations must be 1 to 256"),
    (["--seed", "4", "--morph-to", "5", "--morph-steps", "1"], "--morph-steps must be 2"),
])
def test_exploration_usage_errors_name_the_fix(args, message):
    r = run("generate", "implicit-gan", "-c", "vase", *args)
    assert r.returncode == 2 and message in r.stderr


def test_every_options_field_is_a_flag_of_generate():
    """The flags come from the generated descriptor of vitrine.v1.Options: none is missing."""
    from vitrine.cli import _options, build_parser
    from vitrine.v1 import assets_pb2 as pb

    argv = ["generate", "m", "-c", "c"]
    expected = {}
    for f in pb.Options.DESCRIPTOR.fields:
        flag = "--" + f.name.replace("_", "-")
        if f.enum_type is not None:
            value = f.enum_type.values[-1].name.split("_")[-1]  # e.g. PIVOT_CENTER -> CENTER
            expected[f.name] = value.lower()
        elif f.type in (f.TYPE_FLOAT, f.TYPE_DOUBLE):
            value, expected[f.name] = "0.5", 0.5
        elif f.type == f.TYPE_STRING:
            value, expected[f.name] = "marble", "marble"
        else:
            value, expected[f.name] = "7", 7
        argv += [flag, value]
    assert _options(build_parser().parse_args(argv)) == expected


class _Terminal:
    """A stand-in for a terminal's stderr: records what is written."""

    def __init__(self):
        self.text = ""

    def isatty(self):
        return True

    def write(self, s):
        self.text += s

    def flush(self):
        pass


def test_progress_bar_draws_only_on_a_terminal_and_erases_itself():
    from vitrine.cli import _Progress

    term = _Terminal()
    with _Progress("procedural/chair", stream=term):
        pass
    assert term.text == ""  # a call refused before its first byte draws nothing
    with _Progress("procedural/chair", stream=term) as progress:
        progress(1000, 4000)
        progress(4000, 4000)
        assert "procedural/chair" in term.text
    assert term.text.rsplit("\r", 1)[-1].strip() == ""  # the line is cleared on close

    class _Pipe(_Terminal):
        def isatty(self):
            return False

    pipe = _Pipe()
    with _Progress("x", stream=pipe) as progress:
        progress(10, 10)
    assert pipe.text == ""


def test_report_prints_the_servers_own_time_for_each_asset(capsys):
    from vitrine.cli import _report
    from vitrine.client import Asset
    from vitrine.v1 import assets_pb2 as pb

    header = pb.AssetHeader(asset_id="ab" * 16, seed=9, timings=pb.Timings(
        generate_ms=200.4, export_ms=38.9, queue_ms=500))
    header.files.add(name="lod0.glb", size_bytes=1234, triangles=500)
    _report(Asset(header), ["out/lod0.glb"])
    assert capsys.readouterr().out.splitlines() == [
        f"asset {'ab' * 16}  seed 9  (generated in 239 ms)",
        "  out/lod0.glb  1234 bytes  500 triangles"]
