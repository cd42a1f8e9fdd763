"""One run-directory format for every trainer, and its readers for export and evaluation.

A run directory OUT holds, each written atomically (`generators.core.weights.atomic_write`),
so a run killed at any moment leaves the previous checkpoint whole:

    checkpoint.safetensors  every network's state under its prefix ("g.", "d.", "ema.", ...)
                            plus any extra tensors a family keeps ("latents.z")
    optim.pt                optimiser states, the step counters, the torch RNG state and any
                            data generator's state (torch tensors only: loads weights_only)
    config.json             {"family", "config": the family's config dataclass as a dict,
                            "state": step counters, "networks": each prefix's constructor
                            arguments, and the family's own keys (categories, extent_m, ...)}
    losses*.csv, train.log  one row per step ("step", ..., "sec_per_step"); the log of the run
    loss_curve*.png, samples.png   previews

`resume` puts a checkpoint back into freshly built networks and trims loss-log rows written
after it (a killed run logged steps it then lost). `save_resume` writes a run's networks in
fp16 with their constructor arguments (small enough to commit); `init_from` starts a new run
from such a file (or a checkpoint) with fresh optimisers.
"""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from generators.core.weights import atomic_write

log = logging.getLogger(__name__)

CHECKPOINT, OPTIM, CONFIG = "checkpoint.safetensors", "optim.pt", "config.json"


class RunError(SystemExit):
    """A run directory that cannot be used as asked (missing, another configuration, ...).
    A SystemExit with the message, so a trainer's or exporter's CLI ends with it, no trace."""


def has_checkpoint(out: Path) -> bool:
    out = Path(out)
    return (out / CHECKPOINT).is_file() and (out / CONFIG).is_file()


def missing(run: Path, family: str) -> str | None:
    """None when RUN holds a checkpoint, else the message saying how to make one."""
    if has_checkpoint(run):
        return None
    return (f"{run} has no {CHECKPOINT}; train first with `vitrine train {family} "
            f"--out {run}`")


def read_config(run: Path) -> dict[str, Any]:
    """config.json of a run directory; RunError naming the command when there is none."""
    run = Path(run)
    if not has_checkpoint(run):
        raise RunError(f"{run} has no {CHECKPOINT} and {CONFIG}: not a training run "
                       "(train first with `vitrine train MODEL --out DIR`)")
    cfg = json.loads((run / CONFIG).read_text())
    if "networks" not in cfg or "state" not in cfg:
        cfg = _legacy(cfg)
    return cfg


_COUNTERS = ("step", "ae_step", "gan_step")


def _legacy(cfg: dict[str, Any]) -> dict[str, Any]:
    """config.json of a run from the trainers before this format (2026-11: "args",
    "generator"/"discriminator" or "enc"/"dec"/"g"/"d", counters at the top) in this one, so
    such runs still export, evaluate and resume."""
    nets = {k: cfg[k] for k in ("enc", "dec", "g", "d") if k in cfg}
    if "generator" in cfg:
        nets.update(g=cfg["generator"], d=cfg.get("discriminator"))
    if "g" not in nets:
        raise RunError(f"{CONFIG} names no networks: not a training run of vitrine")
    seconds = {"step": cfg["train_seconds"]} if "train_seconds" in cfg else {}
    return {**cfg, "config": cfg.get("args", {}), "networks": {**nets, "ema": nets["g"]},
            "state": {k: cfg[k] for k in _COUNTERS if k in cfg}, "seconds": seconds}


def _write_json(path: Path, data: Any) -> None:
    atomic_write(path, lambda p: p.write_text(json.dumps(data, indent=2) + "\n"))


def save(out: Path, nets: Mapping[str, nn.Module], opts: Mapping[str, torch.optim.Optimizer],
         state: Mapping[str, int], meta: Mapping[str, Any],
         tensors: Mapping[str, torch.Tensor] | None = None,
         generators: Mapping[str, torch.Generator] | None = None) -> None:
    """Write the three checkpoint files of OUT (see the module docstring). `meta` is the rest
    of config.json (family, config, categories...); `tensors` extra tensors by full name."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    blob = {f"{p}.{k}": v.detach().cpu().contiguous()
            for p, m in nets.items() for k, v in m.state_dict().items()}
    blob.update({k: v.detach().cpu().contiguous() for k, v in (tensors or {}).items()})
    atomic_write(out / CHECKPOINT, lambda p: save_file(blob, str(p)))
    optim = {**{f"opt.{k}": o.state_dict() for k, o in opts.items()}, "state": dict(state),
             "rng": torch.get_rng_state(),
             **{f"rng.{k}": g.get_state() for k, g in (generators or {}).items()}}
    atomic_write(out / OPTIM, lambda p: torch.save(optim, p))
    _write_json(out / CONFIG, {**meta, "state": dict(state),
                               "networks": {p: m.config() for p, m in nets.items()}})


def load_prefixed(module: nn.Module, tensors: Mapping[str, torch.Tensor], prefix: str) -> None:
    """Load the `prefix.`-named tensors into module, in the module's dtype."""
    dtype = next(module.parameters()).dtype
    n = len(prefix) + 1
    module.load_state_dict({k[n:]: v.to(dtype) if v.is_floating_point() else v
                            for k, v in tensors.items() if k.startswith(prefix + ".")})


def load_network(run: Path, build: Callable[..., nn.Module], prefix: str = "ema") -> nn.Module:
    """The network stored under `prefix` in a run (the EMA generator by default), built from
    its recorded constructor arguments, in eval mode (what export and `eval --run` read)."""
    cfg = read_config(run)
    net = build(**cfg["networks"][prefix])
    load_prefixed(net, load_file(str(Path(run) / CHECKPOINT)), prefix)
    return net.eval()


def check_networks(where: Path, saved: Mapping[str, Any], nets: Mapping[str, nn.Module],
                   advice: str) -> None:
    """RunError when a network of `nets` was saved with other constructor arguments."""
    for prefix, net in nets.items():
        if prefix in saved and saved[prefix] != net.config():
            raise RunError(f"{where} holds a {prefix} of {saved[prefix]}, this run builds "
                           f"{net.config()}: {advice}")


def resume(out: Path, nets: Mapping[str, nn.Module], opts: Mapping[str, torch.optim.Optimizer],
           logs: Mapping[str, str] = {}, generators: Mapping[str, torch.Generator] | None = None,
           device: torch.device | str = "cpu") -> tuple[dict[str, int], dict[str, torch.Tensor]]:
    """Put OUT's checkpoint back: networks, optimisers, RNG states. Returns (state counters,
    the checkpoint's other tensors). `logs` maps a loss log's file name to the counter whose
    value its last row may not pass (rows after the checkpoint are dropped)."""
    out = Path(out)
    cfg = read_config(out)
    check_networks(out, cfg["networks"], nets,
                   "it holds a run with another configuration; use another --out")
    tensors = load_file(str(out / CHECKPOINT), device=str(device))
    for prefix, m in nets.items():
        load_prefixed(m, tensors, prefix)
    blob = torch.load(out / OPTIM, map_location="cpu", weights_only=True)
    for k, o in opts.items():  # (older runs: "opt_g", "opt_ae", "data_rng", counters on top)
        o.load_state_dict(blob.get(f"opt.{k}", blob.get(f"opt_{k}")))
    torch.set_rng_state(blob["rng"].cpu())
    for k, g in (generators or {}).items():
        g.set_state(blob.get(f"rng.{k}", blob.get(f"{k}_rng")))
    state = dict(blob.get("state") or {k: int(blob[k]) for k in _COUNTERS if k in blob})
    for name, counter in logs.items():
        trim_log(out / name, state.get(counter, 0))
    extra = {k: v for k, v in tensors.items() if k.split(".", 1)[0] not in nets}
    return state, extra


def trim_log(path: Path, step: int) -> None:
    """Drop the rows of a loss log after `step` (and rows that are not rows: a line cut off
    by the kill); the whole log when nothing was checkpointed."""
    if not path.exists():
        return
    if step == 0:
        path.unlink()
        return
    lines = path.read_text().splitlines(keepends=True)
    keep = lines[:1] + [ln for ln in lines[1:] if ln.endswith("\n")
                        and ln.split(",", 1)[0].isdigit() and int(ln.split(",", 1)[0]) <= step]
    if len(keep) != len(lines):
        atomic_write(path, lambda p: p.write_text("".join(keep)))


def log_seconds(path: Path, last_step: int) -> float | None:
    """Seconds of training steps in a loss log up to `last_step` (None without the log)."""
    if not path.exists():
        return None
    with path.open() as f:
        return round(sum(float(r["sec_per_step"]) for r in csv.DictReader(f)
                         if r["step"].isdigit() and int(r["step"]) <= last_step), 1)


def training_record(run: Path, logs: Mapping[str, str] = {"losses.csv": "step"},
                    keep: Iterable[str] = ()) -> dict[str, Any]:
    """What a model's JSON records of its training: per counter `NAME` the steps (`NAMEs`:
    "steps", "ae_steps") and the wall time of those steps from its loss log ("train_seconds",
    "ae_seconds"; the run's own record when the log is not there, as in a snapshot), the
    config and every network's constructor arguments, and the config.json keys in `keep`."""
    run = Path(run)
    cfg = read_config(run)
    rec: dict[str, Any] = {}
    for name, counter in logs.items():
        step = int(cfg["state"].get(counter, 0))
        stage = counter[:-len("step")]
        rec[f"{counter}s"] = step
        seconds = log_seconds(run / name, step)
        key = f"{stage}seconds" if stage else "train_seconds"
        rec[key] = seconds if seconds is not None else cfg.get("seconds", {}).get(counter)
    rec.update({"config": cfg["config"], "networks": cfg["networks"]})
    rec.update({k: cfg[k] for k in keep if k in cfg})
    return rec


def save_resume(run: Path, path: Path, skip: tuple[str, ...] = ()) -> None:
    """Every network of a run in fp16 (no optimiser state; tensors named with a prefix in
    `skip` left out), with its state counters and constructor arguments as metadata, so a later
    machine can go on with `--init-from` instead of starting over."""
    cfg = read_config(run)
    t = load_file(str(Path(run) / CHECKPOINT))
    half = {k: (v.half() if v.is_floating_point() else v).contiguous() for k, v in t.items()
            if not k.startswith(skip)}
    save_file(half, str(path), metadata={"state": json.dumps(cfg["state"]),
                                         "networks": json.dumps(cfg["networks"])})


def init_from(path: Path, nets: Mapping[str, nn.Module], advice: str) -> dict[str, int]:
    """Load every network of `nets` found in a `save_resume` file (or a checkpoint); returns
    the file's state counters ({} if it has none). A network recorded with other constructor
    arguments is refused with `advice` (which flags to pass)."""
    path = Path(path)
    if not path.is_file():
        raise RunError(f"--init-from: {path} does not exist")
    with safe_open(str(path), "pt") as f:
        meta = f.metadata() or {}
    check_networks(path, json.loads(meta.get("networks", "{}")), nets, advice)
    t = load_file(str(path))
    for prefix, m in nets.items():
        if any(k.startswith(prefix + ".") for k in t):
            load_prefixed(m, t, prefix)
    if "state" in meta:
        return {k: int(v) for k, v in json.loads(meta["state"]).items()}
    # Files written before this format: each counter a metadata entry of its own.
    return {k: int(v) for k, v in meta.items() if k != "networks" and v.isdigit()}
