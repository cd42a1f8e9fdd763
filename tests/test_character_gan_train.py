"""character-gan training: steps change the weights with finite losses, a run resumes, and an
export loads as a served model that dresses, rigs and animates its bodies."""

import json

import numpy as np
from safetensors.torch import load_file

from generators.character_gan import export, train
from generators.character_gan.generator import CharacterGanGenerator, load_weights


def _run(out, steps, *extra):
    assert train.main(["--preset", "tiny", "--out", str(out), "--steps", str(steps),
                       "--threads", "1", "--no-progress", *extra]) == 0


def test_training_steps_change_weights_resume_and_export(tmp_path):
    run = tmp_path / "run"
    _run(run, 2)
    first = load_file(str(run / "checkpoint.safetensors"))
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["state"]["step"] == 2 and cfg["family"] == "character-gan"
    assert len(cfg["categories"]) >= 4 and 0 < cfg["pca_variance_kept"] <= 1
    rows = (run / "losses.csv").read_text().splitlines()[1:]
    assert len(rows) == 2
    assert all(np.isfinite([float(v) for v in r.split(",") if v]).all() for r in rows)
    _run(run, 4)  # resumes at step 2
    assert json.loads((run / "config.json").read_text())["state"]["step"] == 4
    assert len((run / "losses.csv").read_text().splitlines()) == 5
    later = load_file(str(run / "checkpoint.safetensors"))
    assert any(not np.array_equal(first[k].numpy(), later[k].numpy())
               for k in first if k.startswith("g."))

    weights, config = tmp_path / "m.safetensors", tmp_path / "m.json"
    meta = export.export(run, weights, config, "tiny-bodies")
    assert meta["family"] == "character-gan" and meta["training"]["steps"] == 4
    G, cfg = load_weights(weights, config, "tiny-bodies")
    assert G.n_vertices == G.basis.shape[1] // 3 and cfg["template"]
