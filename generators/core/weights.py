"""Shipped model weights: fp16 safetensors plus a JSON config that records their sha256.

Every learned model ships two files written by its own export script: `NAME.safetensors`
(the inference network only, fp16) and `NAME.json` (constructor arguments, the file's sha256,
the training record and whatever else the model needs). `write_weights` writes both
atomically; `load_network` refuses a missing, truncated, altered or mismatched file with a
`ModelLoadError` that names the file and the command that rebuilds it.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from safetensors.torch import load as load_safetensors
from safetensors.torch import save
from torch import nn

from generators.core.errors import ModelLoadError

log = logging.getLogger(__name__)


def atomic_write(path: Path, write: Callable[[Path], Any]) -> None:
    """Call write(tmp) on a sibling temporary path, then rename it over `path`: readers see the
    old file or the new one, never half of one (checkpoints, shipped weights)."""
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    tmp.replace(path)


def write_weights(net: nn.Module, meta: dict[str, Any], weights: Path, config: Path) -> dict:
    """Write net's state as fp16 safetensors and `meta` (plus sha256 and dtype) as JSON."""
    half = {k: (v.half() if v.is_floating_point() else v).detach().cpu().contiguous()
            for k, v in net.state_dict().items()}
    blob = save(half)
    meta = {**meta, "sha256": hashlib.sha256(blob).hexdigest(), "dtype": "float16"}
    weights.parent.mkdir(parents=True, exist_ok=True)
    for path, data in ((weights, blob), (config, json.dumps(meta, indent=2).encode() + b"\n")):
        atomic_write(path, lambda tmp, data=data: tmp.write_bytes(data))
    log.info("wrote %s (%.2f MB) and %s", weights, len(blob) / 1e6, config)
    return meta


def shipped_paths(family_file: str, name: str, run: str | None = None) -> tuple[Path, Path, str]:
    """(weights, config, the command that rebuilds them) of a family's shipped weights: the
    folder `weights/` beside `family_file`, files named after the model."""
    folder = Path(family_file).resolve().parent / "weights"
    rebuild = f"vitrine export {name} --run {run or 'runs/' + name} --ship"
    return folder / f"{name}.safetensors", folder / f"{name}.json", rebuild


def load_network(model: str, build: Callable[..., nn.Module], weights: Path, config: Path,
                 rebuild: str, required: Sequence[str] = (), labels: str | None = None,
                 n_labels: Callable[[nn.Module], int] = lambda net: net.n_classes,
                 ) -> tuple[nn.Module, dict]:
    """(network in eval mode with fp32 weights, config dict), or ModelLoadError.

    `build(**config["generator"])` constructs the network; `required` lists further config
    keys the model cannot do without; `labels` names the config's list of class names, which
    must have `n_labels(net)` entries (one per class the network was trained on).
    """
    for path in (weights, config):
        if not path.is_file():
            raise ModelLoadError(f"{model}: {path} is missing; rebuild it with `{rebuild}`")
    try:
        cfg = json.loads(config.read_text())
        expected = cfg["sha256"]
        kwargs = cfg["generator"]
        missing = [key for key in required if key not in cfg]
        if missing:
            raise KeyError(missing[0])
    except (ValueError, KeyError, TypeError) as err:
        raise ModelLoadError(f"{model}: {config} is not a valid config (missing or bad {err}); "
                             f"rebuild it with `{rebuild}`") from err
    blob = weights.read_bytes()
    digest = hashlib.sha256(blob).hexdigest()
    if digest != expected:
        raise ModelLoadError(f"{model}: {weights} is corrupt (sha256 {digest[:12]}..., config "
                             f"expects {str(expected)[:12]}...); restore it from git or rebuild "
                             f"it with `{rebuild}`")
    try:
        state = load_safetensors(blob)
        net = build(**kwargs)
        net.load_state_dict({k: v.float() for k, v in state.items()})
    except Exception as err:  # safetensors and torch raise several types for a bad file
        raise ModelLoadError(f"{model}: {weights} does not load into {build.__name__}({kwargs})"
                             f": {err}") from err
    if labels is not None and len(cfg.get(labels) or ()) != n_labels(net):
        raise ModelLoadError(f"{model}: {config} lists {len(cfg.get(labels) or ())} {labels} "
                             f"for a {n_labels(net)}-class network")
    return net.eval(), cfg
