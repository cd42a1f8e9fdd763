"""The one training loop: a family supplies networks, data and a step; the loop does the rest.

As in stylegan3's split of `training_loop` from `loss`, a trainer builds its networks and
optimisers into a `Session`, and hands `Session.train` one `Stage` per phase: the function
that runs one step (returning the values to log) and the loss-log columns. The loop owns
what every trainer needs: resume from OUT (`generators.training.run`), the tqdm bar, the
loss log (`sec_per_step` excludes checkpoint and preview time), a checkpoint every
`ckpt_every` steps and at the end, previews every `preview_every` steps, and the
`--max-minutes` budget (checkpoint, preview, stop cleanly; rerunning the same command goes on).

`setup_run(out)` makes OUT and sends the root logger to OUT/train.log as well, without
`logging.basicConfig` (which does nothing once the `vitrine` CLI has configured logging).
`main` is a whole trainer's entry point: argv -> the family's config dataclass -> train.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from generators.training import config as configs
from generators.training import run as rundir

log = logging.getLogger(__name__)

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


@dataclass
class RunOptions:
    """What every trainer's command line has (families subclass it, adding their recipe)."""

    out: str = "runs/model"  # run directory: checkpoints, loss logs, previews, train.log
    seed: int = 0  # torch seed of the run (a resumed run restores its RNG state instead)
    ckpt_every: int = 100  # checkpoint every N steps (and at the end, and when time runs out)
    preview_every: int = 500  # write loss curves and samples.png every N steps (0: never)
    max_minutes: float = 0.0  # wall-clock budget of this invocation: checkpoint and stop when
    # spent, rerun the same command to go on (0: none)
    threads: int = 0  # CPU threads (0: torch's default)
    progress: bool = True  # tqdm progress bar
    init_from: str | None = None  # start a new run from these weights (see the trainer's -h)

    def __post_init__(self) -> None:
        if self.ckpt_every < 1:
            raise ValueError(f"--ckpt-every must be >= 1, got {self.ckpt_every}")
        if self.preview_every < 0 or self.max_minutes < 0:
            raise ValueError("--preview-every and --max-minutes must be >= 0")


@contextlib.contextmanager
def setup_run(out: Path | str, threads: int = 0) -> Iterator[torch.device]:
    """Make OUT, log to OUT/train.log (a FileHandler on the root logger, removed on exit; a
    console handler too when nothing configured logging), set the thread count, and yield
    the device to train on (CUDA when present)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    added: list[logging.Handler] = [logging.FileHandler(out / "train.log")]
    if not root.handlers:
        added.append(logging.StreamHandler())
    old_level = root.level
    if root.getEffectiveLevel() > logging.INFO:
        root.setLevel(logging.INFO)
    for h in added:
        h.setFormatter(logging.Formatter(FORMAT))
        h.setLevel(logging.INFO)
        root.addHandler(h)
    if threads:
        torch.set_num_threads(threads)
    try:
        yield torch.device("cuda" if torch.cuda.is_available() else "cpu")
    finally:
        for h in added:
            root.removeHandler(h)
            h.close()
        root.setLevel(old_level)


def main(cls: type, presets: Mapping[str, Mapping[str, Any]], train: Callable[[Any, torch.device], Any],
         argv: Sequence[str] | None, prog: str, doc: str | None) -> int:
    """A trainer's main(argv): parse the family's config, then train(cfg, device) inside
    `setup_run(cfg.out)` with the run's seed set. Returns 0."""
    cfg = configs.parse(cls, argv, presets, prog, (doc or "").strip().splitlines()[0])
    with setup_run(cfg.out, cfg.threads) as device:
        torch.manual_seed(cfg.seed)
        train(cfg, device)
    return 0


def n_params(*nets: nn.Module) -> str:
    return ", ".join(f"{sum(p.numel() for p in n.parameters()) / 1e6:.3f}M" for n in nets)


def loss_curves(out: Path, curves: Mapping[str, tuple[str, Sequence[str]]]) -> None:
    """{log name: (png name, columns)} -> loss-curve PNGs of the logs that exist."""
    from generators.viz import loss_curve_png

    for name, (png, columns) in curves.items():
        if (out / name).exists():
            try:
                loss_curve_png(out / name, out / png, columns=tuple(columns))
            except ValueError as err:  # too early: no rows yet
                log.warning("no loss curve yet: %s", err)


@dataclass
class Stage:
    """One phase of training: `step(i)` trains step i (0-based) and returns the row to log."""

    name: str  # progress-bar and log label ("voxel-gan", "implicit-gan AE")
    counter: str  # the state counter it advances ("step", "ae_step")
    total: int  # train until the counter reaches this
    step: Callable[[int], Mapping[str, float | torch.Tensor | None]]
    log: str  # loss log file name in OUT
    columns: Sequence[str]  # the log's columns between "step" and "sec_per_step"
    ckpt_every: int
    preview_every: int = 0  # 0: never
    preview: Callable[[], None] | None = None
    on_checkpoint: Callable[[int], None] | None = None  # after each checkpoint (snapshots)
    postfix: Sequence[str] = ()  # columns shown on the bar


def _cell(v: float | torch.Tensor | None) -> str:
    return "" if v is None else f"{float(v.detach() if isinstance(v, torch.Tensor) else v):.6g}"


@dataclass
class Session:
    """A run being trained: its networks, optimisers, counters, and what config.json says."""

    out: Path
    config: Any  # the family's config dataclass (a RunOptions)
    nets: dict[str, nn.Module]
    opts: dict[str, torch.optim.Optimizer]
    state: dict[str, int]
    meta: dict[str, Any] = field(default_factory=dict)  # more config.json keys (categories...)
    tensors: Callable[[], Mapping[str, torch.Tensor]] | None = None  # extra checkpoint tensors
    generators: dict[str, torch.Generator] = field(default_factory=dict)  # data RNGs to keep
    seconds: dict[str, float] = field(default_factory=dict)  # training seconds per counter
    deadline: float = math.inf

    def __post_init__(self) -> None:
        self.out = Path(self.out)
        self.out.mkdir(parents=True, exist_ok=True)
        if self.config.max_minutes > 0:
            self.deadline = time.time() + 60 * self.config.max_minutes

    def resume(self, logs: Mapping[str, str], device: torch.device | str = "cpu",
               ) -> dict[str, torch.Tensor] | None:
        """Restore OUT's checkpoint if there is one (trimming `logs`: {file: counter}) and
        return its extra tensors; None when OUT holds no run yet."""
        if not rundir.has_checkpoint(self.out) or not (self.out / rundir.OPTIM).exists():
            for name in logs:
                (self.out / name).unlink(missing_ok=True)  # rows of a run never checkpointed
            return None
        self.state, extra = rundir.resume(self.out, self.nets, self.opts, logs,
                                          self.generators, device)
        self.seconds = dict(rundir.read_config(self.out).get("seconds", {}))
        log.info("resumed %s at %s", self.out, self.state)
        return extra

    def checkpoint(self) -> None:
        meta = {"family": self.meta.get("family"), "config": configs.as_dict(self.config),
                **self.meta, "seconds": {k: round(v, 1) for k, v in self.seconds.items()}}
        rundir.save(self.out, self.nets, self.opts, self.state, meta,
                    self.tensors() if self.tensors else None, self.generators)

    def train(self, stage: Stage) -> bool:
        """Run `stage` to its total; False when the time budget ran out first (checkpointed)."""
        from tqdm import tqdm

        s = self.state.get(stage.counter, 0)
        if s >= stage.total:
            return True
        path = self.out / stage.log
        new = not path.exists() or path.stat().st_size == 0
        bar = tqdm(total=stage.total, initial=s, desc=stage.name, unit="step",
                   disable=not self.config.progress)
        with path.open("a") as f:
            if new:
                f.write(",".join(("step", *stage.columns, "sec_per_step")) + "\n")
            finished = self._steps(stage, f, bar)
        bar.close()
        return finished

    def _steps(self, stage: Stage, f, bar) -> bool:
        t_last = time.time()
        while self.state.get(stage.counter, 0) < stage.total:
            s = self.state.get(stage.counter, 0)
            row = stage.step(s)
            s = self.state[stage.counter] = s + 1
            now = time.time()
            self.seconds[stage.counter] = self.seconds.get(stage.counter, 0.0) + now - t_last
            f.write(",".join((str(s), *(_cell(row.get(c)) for c in stage.columns),
                              f"{now - t_last:.4f}")) + "\n")
            bar.update()
            if stage.postfix:
                bar.set_postfix({c: _cell(row.get(c)) for c in stage.postfix})
            out_of_time = now >= self.deadline
            if s % stage.ckpt_every == 0 or s == stage.total or out_of_time:
                f.flush()
                self._checkpoint(stage, s, row, out_of_time)
                now = time.time()  # checkpoint and preview time is not training time
            t_last = now
            if out_of_time:
                log.info("--max-minutes %g spent at %s %d; rerun the same command to go on",
                         self.config.max_minutes, stage.counter, s)
                return False
        return True

    def _checkpoint(self, stage: Stage, s: int, row: Mapping, out_of_time: bool) -> None:
        self.checkpoint()
        if stage.on_checkpoint:
            stage.on_checkpoint(s)
        if stage.preview and stage.preview_every and (
                s % stage.preview_every == 0 or s == stage.total or out_of_time):
            stage.preview()
        values = ", ".join(f"{c} {_cell(row.get(c))}" for c in stage.columns
                           if row.get(c) is not None)
        log.info("%s %s %d: %s (checkpoint written)", stage.name, stage.counter, s, values)
