"""The server distribution's verbs of the `vitrine` command (server/cli.py): serve, train,
export, eval, dataset, reproduce, read from the family table."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from generators.core.family import Family

VITRINE = [sys.executable, "-m", "vitrine.cli"]


def run(*args, **kw):
    return subprocess.run([*VITRINE, *args], capture_output=True, text=True, timeout=300,
                          check=False, **kw)


def _learned(attr: str) -> list[str]:
    from generators.core.registry import families

    return [n for n, f in families().items() if getattr(f, attr) is not None]


def test_the_server_verbs_come_from_the_entry_point_group():
    from importlib.metadata import entry_points

    from vitrine.cli import build_parser

    assert [e.value for e in entry_points(group="vitrine.commands")] == ["server.cli:register"]
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    assert {"serve", "train", "export", "eval", "dataset", "reproduce"} <= set(sub.choices)


def test_building_the_parser_imports_no_model_code():
    """`vitrine models` and `vitrine generate` must not pay for generators/ (or torch)."""
    code = ("import sys; from vitrine.cli import build_parser; build_parser(); "
            "print(sorted({m.split('.')[0] for m in sys.modules} & "
            "{'generators', 'torch', 'numpy', 'trimesh'}))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert r.stdout.strip() == "[]"


@pytest.mark.parametrize("verb,attr", [("train", "train"), ("export", "export"),
                                       ("eval", "evaluate")])
def test_help_lists_every_family_with_that_entry_point(verb, attr):
    names = _learned(attr)
    assert {"voxel-gan", "implicit-gan", "texture-gan"} <= set(names)
    r = run(verb, "-h")
    assert r.returncode == 0, r.stderr
    listed = r.stdout.split("models:\n", 1)[1]
    assert [line.split()[0] for line in listed.splitlines() if line.startswith("  ")] == names


def test_unknown_or_missing_model_is_a_usage_error_listing_them():
    r = run("train", "mystery-gan")
    assert r.returncode == 2
    assert "no trainable model named 'mystery-gan'" in r.stderr
    for name in _learned("train"):
        assert name in r.stderr
    r = run("export")
    assert r.returncode == 2 and "voxel-gan" in r.stderr


def test_a_new_family_is_a_verb_with_no_edit(monkeypatch, capsys):
    """A family registered at run time is trainable at once: no list in the CLI names them."""
    from vitrine.cli import main

    from generators.core import registry

    _SEEN_ARGV.clear()
    fam = Family(name="toy-gan", generator="x:Y", train=_toy_main)
    monkeypatch.setitem(registry._FAMILIES, "toy-gan", fam)
    assert main(["train", "toy-gan", "--steps", "3"]) == 7
    assert _SEEN_ARGV == [["--steps", "3"]]
    assert main(["train", "toy-gan", "--", "--help"]) == 7
    assert _SEEN_ARGV[-1] == ["--help"]
    with pytest.raises(SystemExit):
        main(["train", "-h"])
    assert "toy-gan" in capsys.readouterr().out


_SEEN_ARGV: list[list[str]] = []


def _toy_main(argv):
    _SEEN_ARGV.append(list(argv))
    return 7


def test_eval_passes_its_arguments_to_the_family(tmp_path):
    r = run("eval", "voxel-gan", "--run", str(tmp_path))
    assert r.returncode == 2 and "vitrine train voxel-gan" in r.stderr


def test_reproduce_runs_the_recipe_in_order_through_the_cli(monkeypatch, capsys):
    from generators.core import registry
    from server import cli

    fam = Family(name="toy-gan", generator="x:Y", recipe=(
        ("train", "toy-gan", "--out", "runs/toy"), ("export", "toy-gan", "--run", "runs/toy"),
        ("eval", "toy-gan")))
    monkeypatch.setitem(registry._FAMILIES, "toy-gan", fam)
    calls = []

    def fake_run(argv, check):
        calls.append(argv)
        return subprocess.CompletedProcess(argv, 3 if argv[-1] == "eval-fails" else 0)

    monkeypatch.setattr(cli.subprocess, "run", fake_run)
    from vitrine.cli import main

    assert main(["reproduce", "toy-gan"]) == 0
    assert calls == [[sys.executable, "-m", "vitrine.cli", *step] for step in fam.recipe]
    calls.clear()
    assert main(["reproduce", "toy-gan", "--from", "2"]) == 0
    assert [c[3] for c in calls] == ["export", "eval"]
    calls.clear()
    assert main(["reproduce", "toy-gan", "--dry-run"]) == 0 and calls == []
    assert "step 3/3: vitrine eval toy-gan" in capsys.readouterr().err

    # A failing step stops the recipe and says how to go on.
    bad = Family(name="toy-gan", generator="x:Y", recipe=(
        ("train", "toy-gan"), ("eval", "eval-fails"), ("export", "toy-gan")))
    monkeypatch.setitem(registry._FAMILIES, "toy-gan", bad)
    calls.clear()
    assert main(["reproduce", "toy-gan"]) == 3
    assert len(calls) == 2 and "vitrine reproduce toy-gan --from 2" in capsys.readouterr().err
    assert main(["reproduce", "procedural"]) == 2  # ships no trained weights: no recipe


def test_reproduce_help_shows_every_shipped_recipe():
    from generators.core.registry import families

    r = run("reproduce", "-h")
    assert r.returncode == 0, r.stderr
    for name, fam in families().items():
        if fam.recipe:
            assert f"  {name}\n    1. vitrine {' '.join(fam.recipe[0])}" in r.stdout


def test_make_train_targets_are_the_recipes():
    """One pattern rule: `make train-NAME` is `vitrine reproduce NAME`."""
    makefile = (Path(__file__).resolve().parents[1] / "Makefile").read_text()
    assert "train-%: setup\n\t$(VENV)/bin/vitrine reproduce $* $(ARGS)" in makefile
    assert "train-voxel-gan:" not in makefile
    # --no-print-directory: under `make test` this make is nested and would add
    # "Entering directory" lines around the command.
    r = subprocess.run(["make", "--no-print-directory", "-n", "serve", "MODEL_DIR=models more"],
                       capture_output=True, text=True, check=False,
                       cwd=Path(__file__).resolve().parents[1])
    if r.returncode == 0:  # make -n may want to set up first; the serve line is the last
        assert r.stdout.strip().endswith("--model-dir models --model-dir more")


def test_serve_on_a_busy_port_says_how_to_pick_another(tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        address = f"127.0.0.1:{s.getsockname()[1]}"
        r = run("serve", "--address", address, "--data-dir", str(tmp_path),
                "--models", "procedural")
    assert r.returncode == 2, r.stderr
    assert "pass --address HOST:PORT (make serve: ADDRESS=HOST:PORT)" in r.stderr


def test_serve_refuses_a_bad_model_dir_naming_the_file(tmp_path):
    r = run("serve", "--address", "127.0.0.1:0", "--data-dir", str(tmp_path / "d"),
            "--model-dir", str(tmp_path / "nowhere"))
    assert r.returncode == 1 and "nowhere" in r.stderr and "Traceback" not in r.stderr
    bad = tmp_path / "models" / "armchairs"
    bad.mkdir(parents=True)
    (bad / "armchairs.json").write_text("{}")
    r = run("serve", "--address", "127.0.0.1:0", "--data-dir", str(tmp_path / "d"),
            "--model-dir", str(tmp_path / "models"))
    assert r.returncode == 1 and "armchairs.json" in r.stderr and "Traceback" not in r.stderr


def test_dataset_build_goes_to_the_data_tool(tmp_path):
    from generators.data import mesh_set

    if not hasattr(mesh_set, "main"):
        pytest.skip("generators.data.mesh_set.main(argv) has not landed yet")
    import trimesh

    (tmp_path / "crate").mkdir()
    trimesh.creation.box((1, 0.6, 0.8)).export(tmp_path / "crate" / "a.stl")
    out = tmp_path / "set.npz"
    r = run("dataset", "build", str(tmp_path / "crate"), "--res", "32", "--up-axis", "z",
            "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert out.exists() and "1 shapes" in r.stdout
    r = run("dataset", "build", "-h")
    assert r.returncode == 0 and "--up-axis" in r.stdout


def test_serve_with_damaged_texture_gan_weights_stops_at_start_naming_the_file(tmp_path):
    """Readable JSON, one weights byte changed: even a procedural-only server (which needs
    texture-gan for its materials' maps) refuses to start, and says which file to restore.
    The subprocess points the texture-gan family at a damaged copy, then runs the CLI."""
    from generators.texture_gan.generator import CONFIG, WEIGHTS

    weights, config = tmp_path / "texture-gan.safetensors", tmp_path / "texture-gan.json"
    blob = bytearray(WEIGHTS.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    weights.write_bytes(bytes(blob))
    config.write_bytes(CONFIG.read_bytes())
    code = (
        "import sys; from dataclasses import replace; from pathlib import Path\n"
        "from generators.core import registry\n"
        "fam = registry.family('texture-gan')\n"
        f"registry._FAMILIES['texture-gan'] = replace(fam, kwargs={{'weights': Path({str(weights)!r}), "
        f"'config': Path({str(config)!r})}})\n"
        "from vitrine.cli import main\n"
        f"sys.exit(main(['serve', '--address', '127.0.0.1:0', '--data-dir', {str(tmp_path / 'd')!r}, "
        "'--models', 'procedural']))\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                       check=False)
    assert r.returncode == 1, r.stderr
    assert str(weights) in r.stderr and "corrupt" in r.stderr and "Traceback" not in r.stderr


def test_serve_on_a_busy_metrics_port_names_the_metrics_flag(tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        busy = f"127.0.0.1:{s.getsockname()[1]}"
        r = run("serve", "--address", "127.0.0.1:0", "--data-dir", str(tmp_path),
                "--models", "procedural", "--metrics-address", busy)
    assert r.returncode == 2, r.stderr
    assert "pass --metrics-address HOST:PORT" in r.stderr and "Traceback" not in r.stderr


def test_serve_sets_torch_threads_from_the_workers_and_refuses_a_negative_count(tmp_path):
    import socket

    r = run("serve", "--torch-threads", "-1", "--data-dir", str(tmp_path),
            "--models", "procedural")
    assert r.returncode == 2 and "--torch-threads must be >= 0" in r.stderr, r.stderr
    with socket.socket() as s:  # a busy port: serve stops right after the threads are set
        s.bind(("127.0.0.1", 0))
        s.listen()
        r = run("--log-level", "info", "serve", "--address",
                f"127.0.0.1:{s.getsockname()[1]}", "--workers", "2", "--data-dir",
                str(tmp_path), "--models", "procedural")
    import os

    want = max(1, (os.cpu_count() or 1) // 2)
    assert f"torch uses {want} intra-op thread(s) per worker" in r.stderr, r.stderr
