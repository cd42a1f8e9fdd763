"""Train the material-conditioned tileable texture GAN on random exemplar crops (resumable).

The shipped weights, in two runs (defaults = the shipped architecture and losses; a GPU is
strongly advised: the shipped runs took 8.5 + 3 minutes on an H200):

    .venv/bin/vitrine train texture-gan --out runs/texture-gan --steps 5661
    .venv/bin/vitrine train texture-gan --preset shipped-ft --out runs/texture-gan-ft \
        --steps 3020 --init-from runs/texture-gan    # = --d-warmup 300 --stationarity 10

Data: per material, exemplars at `--exemplar-size` (photos: the whole 512-pixel picture;
procedural materials: seeds 0 .. `--exemplars-per-material` - 1; evaluation uses other seeds),
cut into random `--crop`-pixel crops with random flips; the channels are albedo sRGB, height
and roughness, scaled to [-1, 1]. Hinge loss, spectral-norm patch D with material projection,
Adam (0.0, 0.99), an EMA of G for sampling, lazy R1, mode seeking; fakes are rolled by a random
offset on their torus before D sees them; optionally a stationarity penalty on G's in-cell step
profile (`stationarity_penalty`). `--init-from` starts G from another run (D fresh, held to
`--d-warmup` D-only steps first) and records that run in config.json.

`--init-weights FILE.safetensors` starts G from exported weights instead (the shipped ones:
the CPU fine-tune of 2 Dec, `--preset cpu-ft`, which was tried and not shipped; see the model
card), and `--spectral W` adds the spectrum constraint (`SpectrumTarget`) to G's loss.
`--structure W` adds the structure term (`StructureTarget`: the structure metric's radial and
angular power shares, within its band) and `--autocorr W` the autocorrelation term
(`AutocorrTarget`: within +-64 px, which sees G's latent-cell lattice); `--preset
cpu-structure` is the second CPU fine-tune of 2 Dec (see the model card).
Brick's exemplar is turned back into G's frame (`config.G_QUARTER_TURNS`).

The options are the fields of `config.TextureGanConfig`. The run directory, resume and
`--max-minutes` are `generators.training`'s: every `--ckpt-every` steps
`OUT/checkpoint.safetensors` (g, d, ema), `OUT/optim.pt` (optimiser states, step, RNG and the
crop generator's) and `OUT/config.json` (the config, materials, step, wall time) are written
atomically; rerunning the same command resumes from them; when `--max-minutes` is spent the
loop checkpoints and exits cleanly. Losses go to
`OUT/losses.csv`; `OUT/loss_curve.png` and `OUT/samples.png` (EMA samples, a row per material,
the last column a 64-pixel sample tiled 2x2) are refreshed every `--preview-every` steps.
Uses CUDA when present.
"""

from __future__ import annotations

import copy
import logging
import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

from generators.core.weights import atomic_write
from generators.texture.exemplars import PHOTO_MATERIALS, exemplar
from generators.texture_gan.config import G_QUARTER_TURNS, PRESETS, UPSAMPLE, TextureGanConfig
from generators.texture_gan.model import TextureGenerator, networks
from generators.training import config as configs
from generators.training import gan
from generators.training import run as rundir
from generators.training.loop import Session, Stage, loss_curves, n_params
from generators.training.loop import main as train_main

log = logging.getLogger(__name__)

FAMILY = "texture-gan"
COLUMNS = ("loss_d", "loss_g", "d_real", "d_fake", "r1", "spectral", "structure",
           "autocorr")


def exemplar_bank(materials: tuple[str, ...], size: int, per_material: int) -> list[torch.Tensor]:
    """Per material a tensor [K, 5, size, size] in [-1, 1] (albedo, height, roughness).

    Photos contribute their one picture (K = 1; the crop at 512 is the whole photo);
    procedural materials seeds 0 .. per_material - 1. Each is turned back into G's frame
    (`config.G_QUARTER_TURNS`).
    """
    bank = []
    for m in materials:
        seeds = [0] if m in PHOTO_MATERIALS else range(per_material)
        imgs = []
        for s in seeds:
            e = exemplar(m, size, s)
            x = np.concatenate([e.albedo, e.height[..., None], e.roughness[..., None]], axis=2)
            x = np.ascontiguousarray(np.rot90(x, -G_QUARTER_TURNS.get(m, 0)))
            imgs.append(torch.from_numpy(x).permute(2, 0, 1) * 2 - 1)  # [5, S, S]
        bank.append(torch.stack(imgs))
    return bank


def random_crops(bank: list[torch.Tensor], n: int, crop: int,
                 gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """n random crops [n, 5, crop, crop] with random h/v flips, and their material labels [n]."""
    labels = torch.randint(0, len(bank), (n,), generator=gen)
    out = []
    for lab in labels.tolist():
        imgs = bank[lab]
        k = int(torch.randint(0, imgs.shape[0], (1,), generator=gen))
        r, c = (int(v) for v in torch.randint(0, imgs.shape[-1] - crop + 1, (2,), generator=gen))
        x = imgs[k, :, r:r + crop, c:c + crop]
        flips = torch.rand(2, generator=gen)
        if flips[0] < 0.5:
            x = x.flip(-1)
        if flips[1] < 0.5:
            x = x.flip(-2)
        out.append(x)
    return torch.stack(out), labels


def cell_step_profile(x: torch.Tensor) -> torch.Tensor:
    """[2, C, 16]: mean |step to the next pixel| (circular) by position inside G's 16-pixel
    latent cell, along rows then columns, per channel, over the mean step: 1 everywhere when
    the cell grid is invisible. x is G's un-rolled output [B, C, H, W] (cells start at 0)."""
    out = []
    for axis in (-2, -1):
        step = (torch.roll(x, -1, dims=axis) - x).abs()
        per_pos = step.mean(dim=(0, -1 if axis == -2 else -2))  # [C, H or W]
        prof = per_pos.unflatten(-1, (-1, UPSAMPLE)).mean(-2)  # [C, 16]
        out.append(prof / prof.mean(-1, keepdim=True).clamp_min(1e-8))
    return torch.stack(out)


def stationarity_penalty(x: torch.Tensor, labels: torch.Tensor | None = None,
                         allowance: torch.Tensor | None = None) -> torch.Tensor:
    """Mean squared deviation of `cell_step_profile` from 1. Real textures' step statistics do
    not depend on the position modulo 16; a G whose pixel shuffles leave 2-, 4-, .. 16-pixel
    periodic steps (a faint grid, and a wrap cut that is rougher or smoother than the
    interior) pays for it directly instead of waiting for D to notice.

    With an `allowance` ([n_materials], `profile_allowance`) and `labels`: per material in the
    batch, only the deviation beyond that material's allowance counts (a hinge), averaged over
    the materials present. A material whose real texture repeats every 16 pixels (fabric's
    weave) may then keep its period on G's cell grid; without the allowance the penalty pushes
    G to unlock the weave from the grid, and the weave's phase wanders inside each texture."""
    if allowance is None:
        return (cell_step_profile(x) - 1).square().mean()
    terms = [F.relu((cell_step_profile(x[labels == m]) - 1).square().mean() - allowance[m])
             for m in labels.unique()]
    return torch.stack(terms).mean()


def profile_allowance(bank: list[torch.Tensor]) -> torch.Tensor:
    """Per material, the largest `stationarity_penalty` its own exemplars reach when the 16-pixel
    grid is laid on them at the worst alignment (per axis, over all 16 offsets): what a real
    texture of that material may show (measured: fabric's 8-pixel-pitch weave ~0.47, every
    other material < 0.01)."""
    out = []
    for imgs in bank:
        worst = 0.0
        for img in imgs:
            per_axis = [max(float((cell_step_profile(torch.roll(img[None], k, dims=dim))[axis]
                                   - 1).square().mean()) for k in range(UPSAMPLE))
                        for axis, dim in ((0, -2), (1, -1))]
            worst = max(worst, sum(per_axis) / 2)
        out.append(worst)
    return torch.tensor(out)


SPECTRAL_RADIAL_BINS = 16  # log-spaced, 2 cycles per crop .. Nyquist
SPECTRAL_ANGULAR_BINS = 12  # over 180 degrees
_LUMA = (0.2126, 0.7152, 0.0722)


def _spectral_channels(x: torch.Tensor) -> torch.Tensor:
    """[B, 5, H, W] in [-1, 1] -> [B, 2, H, W]: albedo luma and height."""
    w = torch.tensor(_LUMA, dtype=x.dtype, device=x.device)
    return torch.stack([(x[:, :3] * w[:, None, None]).sum(1), x[:, 3]], dim=1)


class SpectrumTarget:
    """The spectrum constraint (Liu, Gousseau & Xia 2016): per material, the binned mean power
    spectrum of real crops; `loss` pulls the log of a batch's binned mean spectrum towards it.

    Per image and channel (albedo luma, height): mean removed, Hann window (crops do not
    wrap), |rfft2|^2 normalised to unit power; averaged over the images of a material; summed
    into a polar grid of `SPECTRAL_RADIAL_BINS` log-spaced radial bands (2 cycles per crop up
    to Nyquist, the corners included) x `SPECTRAL_ANGULAR_BINS` orientations. The metric
    (`generators.metrics.texture.structure_distance`) bins differently (10 x 12 within periods
    4 px .. a third of the image) and is measured on held-out exemplars at evaluation."""

    def __init__(self, bank: list[torch.Tensor], crop: int, gen: torch.Generator,
                 n: int = 64):
        fy = torch.fft.fftfreq(crop)[:, None]
        fx = torch.fft.rfftfreq(crop)[None, :]
        f = torch.sqrt(fy**2 + fx**2)
        edges = torch.logspace(math.log10(2.0 / crop), math.log10(0.5 * math.sqrt(2.0)) + 1e-6,
                               SPECTRAL_RADIAL_BINS + 1)
        r = torch.bucketize(f, edges) - 1  # -1: DC and below
        theta = torch.remainder(torch.atan2(fy.expand_as(f), fx.expand_as(f)), math.pi)
        a = (theta / math.pi * SPECTRAL_ANGULAR_BINS).long().clamp(max=SPECTRAL_ANGULAR_BINS - 1)
        valid = (r >= 0) & (r < SPECTRAL_RADIAL_BINS)
        idx = torch.where(valid, r * SPECTRAL_ANGULAR_BINS + a, torch.zeros_like(r))
        n_bins = SPECTRAL_RADIAL_BINS * SPECTRAL_ANGULAR_BINS
        onehot = F.one_hot(idx.flatten(), n_bins).float() * valid.flatten()[:, None].float()
        # rfft keeps half the plane: columns 1 .. W/2 - 1 stand for two frequencies each
        weight = torch.full((crop // 2 + 1,), 2.0)
        weight[0] = 1.0
        weight[-1] = 1.0
        self.assign = onehot * weight.expand(crop, -1).flatten()[:, None]  # [freqs, bins]
        self.window = torch.outer(torch.hann_window(crop, periodic=False),
                                  torch.hann_window(crop, periodic=False))
        self.crop = crop
        targets = []
        for m in range(len(bank)):
            lab_bank = [bank[m]]
            x, _ = random_crops(lab_bank, n, crop, gen)
            targets.append(self.binned(x.to(self.window.device)).log())
        self.target = torch.stack(targets)  # [M, 2, bins]
        self.mask = self.target.isfinite() & (self.target > -30)

    def to(self, device) -> SpectrumTarget:
        for k in ("assign", "window", "target", "mask"):
            setattr(self, k, getattr(self, k).to(device))
        return self

    def binned(self, x: torch.Tensor) -> torch.Tensor:
        """[B, 5, H, W] -> [2, bins]: the images' mean normalised power per bin, per channel."""
        y = _spectral_channels(x)
        y = (y - y.mean(dim=(-2, -1), keepdim=True)) * self.window
        p = torch.fft.rfft2(y).abs().square()  # [B, 2, H, W/2 + 1]
        p = p / (p.flatten(2) @ self.assign).sum(-1)[..., None, None].clamp_min(1e-12)
        return (p.mean(0).flatten(1) @ self.assign).clamp_min(1e-12)  # [2, bins]

    def loss(self, fake: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Mean over the materials in the batch of the mean squared log difference per bin."""
        terms = []
        for m in labels.unique():
            d = self.binned(fake[labels == m]).log() - self.target[m]
            terms.append(d[self.mask[m]].square().mean())
        return torch.stack(terms).mean()


class StructureTarget:
    """The structure term: per material, the radial and angular power shares of real crops,
    computed as `generators.metrics.texture.structure_distance` computes them (luma, and here
    height too; mean removed, Hann window, unit power per image, mean over the images; the
    band of periods from a third of the crop down to 4 px: `MIN_CYCLES_PER_IMAGE`,
    `MAX_CYCLES_PER_PIXEL`; `radial_bins` log-spaced bands, `angular_bins` orientations over
    180 degrees). `loss` is the metric's own distance made smooth: the mean squared log2 ratio
    of the radial shares plus the total variation of the angular shares. Unlike
    `SpectrumTarget` it leaves periods under 4 px alone (there, matching power bought noise:
    green and pink speckle on gravel and stone, 2 Dec). It optimises a statistic close to the
    evaluation's; the targets come from the training exemplars, the evaluation's crops from
    held-out seeds (procedural) or the same photo (brick, grass, gravel)."""

    def __init__(self, bank: list[torch.Tensor], crop: int, gen: torch.Generator,
                 n: int = 64, radial_bins: int = 10, angular_bins: int = 12):
        from generators.metrics.texture import MAX_CYCLES_PER_PIXEL, MIN_CYCLES_PER_IMAGE

        fy = torch.fft.fftfreq(crop, dtype=torch.float64)[:, None].expand(crop, crop)
        fx = torch.fft.fftfreq(crop, dtype=torch.float64)[None, :].expand(crop, crop)
        f = torch.hypot(fy, fx)
        lo = MIN_CYCLES_PER_IMAGE / crop
        edges = torch.logspace(math.log10(lo), math.log10(MAX_CYCLES_PER_PIXEL),
                               radial_bins + 1, dtype=torch.float64)
        band = (f >= lo) & (f <= MAX_CYCLES_PER_PIXEL)
        r = (torch.bucketize(f, edges, right=True) - 1).clamp(0, radial_bins - 1)
        theta = torch.remainder(torch.atan2(fy, fx), math.pi)
        a = (theta / math.pi * angular_bins).long().clamp(max=angular_bins - 1)
        keep = band.flatten().float()[:, None]
        self.radial = F.one_hot(r.flatten(), radial_bins).float() * keep  # [H W, R]
        self.angular = F.one_hot(a.flatten(), angular_bins).float() * keep  # [H W, A]
        self.window = torch.outer(torch.hann_window(crop, periodic=False),
                                  torch.hann_window(crop, periodic=False))
        targets = []
        for m in range(len(bank)):
            x, _ = random_crops([bank[m]], n, crop, gen)
            targets.append(self.profiles(x))
        self.target_radial = torch.stack([t[0] for t in targets])  # [M, 2, R]
        self.target_angular = torch.stack([t[1] for t in targets])  # [M, 2, A]

    def to(self, device) -> StructureTarget:
        for k in ("radial", "angular", "window", "target_radial", "target_angular"):
            setattr(self, k, getattr(self, k).to(device))
        return self

    def profiles(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """[B, 5, H, W] -> (radial shares [2, R], angular shares [2, A]) of luma and height."""
        y = _spectral_channels(x)
        y = (y - y.mean(dim=(-2, -1), keepdim=True)) * self.window
        p = torch.fft.fft2(y).abs().square().flatten(2)  # [B, 2, H W]
        p = p / p.sum(-1, keepdim=True).clamp_min(1e-12)
        p = p.mean(0)  # [2, H W]
        rad, ang = p @ self.radial, p @ self.angular
        return (rad / rad.sum(-1, keepdim=True).clamp_min(1e-12),
                ang / ang.sum(-1, keepdim=True).clamp_min(1e-12))

    def loss(self, fake: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Mean over the materials in the batch of radial (mean squared log2 ratio) plus
        angular (total variation) distance, averaged over luma and height."""
        terms = []
        for m in labels.unique():
            rad, ang = self.profiles(fake[labels == m])
            radial = torch.log2((rad + 1e-9) / (self.target_radial[m] + 1e-9)).square().mean()
            angular = 0.5 * (ang - self.target_angular[m]).abs().sum(-1).mean()
            terms.append(radial + angular)
        return torch.stack(terms).mean()


class AutocorrTarget:
    """The autocorrelation term: per material, the normalised autocorrelation of real crops'
    albedo luma and height at every offset within +-`radius` pixels (at most a quarter of the
    crop, where G's circular estimate is still far from wrapping round; a texture-synthesis
    statistic, as Portilla & Simoncelli's; the inverse Fourier transform of the power spectrum,
    unbinned at the resolution of 1 / `radius`). The binned structure term is blind to a narrow
    peak such as G's latent-cell lattice (the shipped G's grass and gravel repeat a stamp every
    32 px: autocorrelation 0.4-0.5 at whole-cell offsets, the photos' 0.05-0.07); this sees it.

    Real crops do not wrap: their autocorrelation is the mean product over the overlap
    (zero-padded FFT divided by the overlap count); G's output wraps, so its own is circular.
    Both are mean-removed per image and divided by their value at offset 0."""

    def __init__(self, bank: list[torch.Tensor], crop: int, gen: torch.Generator,
                 n: int = 64, radius: int = 64):
        self.radius = min(radius, crop // 4)
        targets = []
        for m in range(len(bank)):
            x, _ = random_crops([bank[m]], n, crop, gen)
            targets.append(self._window(self._padded(_spectral_channels(x))).mean(0))
        self.target = torch.stack(targets)  # [M, 2, 2R + 1, 2R + 1]

    def to(self, device) -> AutocorrTarget:
        self.target = self.target.to(device)
        return self

    @staticmethod
    def _padded(y: torch.Tensor) -> torch.Tensor:
        """Non-wrapping autocorrelation of [B, C, H, W], offsets as in an FFT (0 first)."""
        h, w = y.shape[-2:]
        y = y - y.mean(dim=(-2, -1), keepdim=True)
        f = torch.fft.rfft2(y, s=(2 * h, 2 * w))
        ac = torch.fft.irfft2(f.abs().square(), s=(2 * h, 2 * w))
        ones = torch.fft.rfft2(torch.ones(h, w, dtype=y.dtype, device=y.device), s=(2 * h, 2 * w))
        count = torch.fft.irfft2(ones.abs().square(), s=(2 * h, 2 * w)).clamp_min(1.0)
        return ac / count

    @staticmethod
    def _circular(y: torch.Tensor) -> torch.Tensor:
        y = y - y.mean(dim=(-2, -1), keepdim=True)
        return torch.fft.irfft2(torch.fft.rfft2(y).abs().square(), s=y.shape[-2:])

    def _window(self, ac: torch.Tensor) -> torch.Tensor:
        """[..., H', W'] (offset 0 first) -> [..., 2R + 1, 2R + 1] centred, divided by ac(0)."""
        r = self.radius
        ac = ac / ac[..., :1, :1].clamp_min(1e-12)
        return torch.roll(ac, (r, r), dims=(-2, -1))[..., :2 * r + 1, :2 * r + 1]

    def loss(self, fake: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Mean over the materials in the batch of the mean squared difference between the
        batch's mean autocorrelation (G's, circular) and the real crops', over all offsets."""
        terms = []
        for m in labels.unique():
            ac = self._window(self._circular(_spectral_channels(fake[labels == m]))).mean(0)
            terms.append((ac - self.target[m]).square().mean())
        return torch.stack(terms).mean()


def random_roll(x: torch.Tensor) -> torch.Tensor:
    """x rolled by one random offset (rows, columns) on its torus. G's output is exactly
    periodic, so this is the same texture seen from elsewhere: D then sees every position
    relative to G's 16-pixel latent cells and the wrap, as it does in random real crops,
    instead of patches always aligned with the cell grid (where a cell-periodic pattern or a
    weave locked to the grid costs G nothing)."""
    dy, dx = (int(v) for v in torch.randint(0, x.shape[-1], (2,)))
    return torch.roll(x, (dy, dx), dims=(-2, -1))


def to_images(x: torch.Tensor) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """[B, 5, H, W] in [-1, 1] -> (albedo [B, H, W, 3], height [B, H, W], roughness) in [0, 1]."""
    y = (x.detach().float().cpu().clamp(-1, 1) * 0.5 + 0.5).permute(0, 2, 3, 1).numpy()
    return y[..., :3], y[..., 3], y[..., 4]


@torch.no_grad()
def write_previews(out: Path, ema, materials, device, per_material: int = 4) -> None:
    """loss_curve.png from losses.csv; samples.png: per material `per_material` 128-pixel EMA
    albedos, two heights, and a 64-pixel sample tiled 2x2 (a seam would show as a cross)."""
    from generators.viz import contact_sheet

    loss_curves(out, {"losses.csv": ("loss_curve.png", ("loss_d", "loss_g", "d_real",
                                                        "d_fake"))})
    g = torch.Generator().manual_seed(1234)
    images, labels = [], []
    for i, m in enumerate(materials):
        lab = torch.full((per_material,), i, device=device)
        alb, hgt, _ = to_images(ema(lab, *ema.sample_noise(per_material, 128 // UPSAMPLE, g,
                                                             device)))
        tile, _, _ = to_images(ema(lab[:1], *ema.sample_noise(1, 64 // UPSAMPLE, g, device)))
        tile = np.tile(tile[0], (2, 2, 1))
        row = [*alb, hgt[0], hgt[1], tile]
        images += [(np.clip(r, 0, 1) * 255).round().astype(np.uint8) for r in row]
        labels += [f"{m} {j}" for j in range(per_material)] + [f"{m} h0", f"{m} h1",
                                                               f"{m} 64px 2x2"]
    contact_sheet(images, labels, columns=per_material + 3, path=out / "samples.png")


def save_snapshot(out: Path, ema, step: int) -> Path:
    """OUT/snapshots/STEP: the EMA generator and config.json, a run directory for export."""
    snap = out / "snapshots" / str(step)
    snap.mkdir(parents=True, exist_ok=True)
    tensors = {"ema." + k: v.detach().cpu().contiguous() for k, v in ema.state_dict().items()}
    atomic_write(snap / rundir.CHECKPOINT, lambda p: save_file(tensors, str(p)))
    text = (out / rundir.CONFIG).read_text()
    atomic_write(snap / rundir.CONFIG, lambda p: p.write_text(text))
    return snap


def parse_args(argv=None) -> TextureGanConfig:
    return configs.parse(TextureGanConfig, argv, PRESETS, "vitrine train texture-gan",
                         __doc__.splitlines()[0])


def _init_from(cfg: TextureGanConfig, session: Session) -> None:
    """G and its EMA from another run's (or snapshot's) EMA generator; D stays fresh. The
    source's training record goes into this run's config.json."""
    src = Path(cfg.init_from)
    src_cfg = rundir.read_config(src)
    G = session.nets["g"]
    if src_cfg["networks"]["ema"] != G.config() or src_cfg["materials"] != list(cfg.materials):
        raise rundir.RunError(f"--init-from {src}: its generator {src_cfg['networks']['ema']} "
                              f"and materials {src_cfg['materials']} differ from this run's; "
                              "pass the same --g-* and --materials flags")
    ema = rundir.load_network(src, TextureGenerator)
    for net in (G, session.nets["ema"]):
        net.load_state_dict(ema.state_dict())
    session.meta["init_from"] = rundir.training_record(src, keep=("init_from",))
    log.info("generator initialised from %s (step %d)", src, src_cfg["state"]["step"])


def _init_weights(cfg: TextureGanConfig, session: Session) -> None:
    """G and its EMA from exported weights (fp16 safetensors + JSON, as shipped); D fresh."""
    from generators.core.weights import load_network
    from generators.texture_gan.generator import REBUILD

    weights = Path(cfg.init_weights)
    G = session.nets["g"]
    src, meta = load_network(FAMILY, TextureGenerator, weights, weights.with_suffix(".json"),
                             REBUILD, required=("materials",), labels="materials")
    if src.config() != G.config() or meta["materials"] != list(cfg.materials):
        raise rundir.RunError(f"--init-weights {weights}: its generator {src.config()} and "
                              f"materials {meta['materials']} differ from this run's")
    for net in (G, session.nets["ema"]):
        net.load_state_dict({k: v.float() for k, v in src.state_dict().items()})
    session.meta["init_from"] = {"weights": str(weights), "sha256": meta["sha256"],
                                 "training": meta.get("training", {})}
    log.info("generator initialised from %s (sha256 %s)", weights, meta["sha256"][:12])


def _d_step(cfg: TextureGanConfig, s: int, G, D, opt_d, real, lab):
    """One D update (hinge; lazy R1 on the per-image mean score); (d_real, d_fake, loss, r1)."""
    z = G.sample_noise(cfg.batch, cfg.crop // UPSAMPLE, device=real.device)
    with torch.no_grad():
        fake = G(lab, *z)
    if cfg.shift:
        fake = random_roll(fake)
    lazy_r1 = cfg.r1 > 0 and s % cfg.r1_every == 0
    if lazy_r1:
        real.requires_grad_(True)
    d_real, d_fake = D(real, lab), D(fake, lab)
    loss_d = gan.hinge_d(d_real, d_fake)
    r1 = None
    if lazy_r1:
        # Per-image score = mean over patches, so gamma means what it does for a one-score D
        # (StyleGAN's convention) whatever the crop size.
        r1 = gan.r1_penalty(d_real.mean(dim=(1, 2)), real)
        loss_d = loss_d + 0.5 * cfg.r1 * cfg.r1_every * r1
    opt_d.zero_grad(set_to_none=True)
    loss_d.backward()
    opt_d.step()
    return d_real, d_fake, loss_d, r1


def _generator_step(cfg: TextureGanConfig, G, D, opt_g, lab,
                    allowance: torch.Tensor | None = None,
                    spectrum: SpectrumTarget | None = None,
                    structure: StructureTarget | None = None,
                    autocorr: AutocorrTarget | None = None,
                    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None,
                               torch.Tensor | None]:
    """One G update: hinge loss on D's scores of fresh (rolled) fakes, plus the optional
    mode-seeking, stationarity, spectrum, structure and autocorrelation terms. Returns the
    loss and the spectrum, structure and autocorrelation terms."""
    z = G.sample_noise(cfg.batch, cfg.crop // UPSAMPLE, device=lab.device)
    if cfg.mode_seeking:
        lab = torch.cat([lab[:cfg.batch // 2]] * 2)  # pair i with i + B/2: same material
    fake = G(lab, *z)
    loss_g = -D(random_roll(fake) if cfg.shift else fake, lab).mean()
    if cfg.mode_seeking:
        # Outputs must move with the noise. The first long run collapsed on brick (one
        # photo): per-pixel std over seeds 0.005 against 0.15 in the data, while D told
        # them apart (+2.8 vs -1.6).
        loss_g = loss_g + cfg.mode_seeking * gan.mode_seeking(fake, z[0])
    if cfg.stationarity:
        loss_g = loss_g + cfg.stationarity * stationarity_penalty(fake, lab, allowance)
    spec = None
    if spectrum is not None:
        spec = spectrum.loss(fake, lab)
        loss_g = loss_g + cfg.spectral * spec
    struct = None
    if structure is not None:
        struct = structure.loss(fake, lab)
        loss_g = loss_g + cfg.structure * struct
    acl = None
    if autocorr is not None:
        acl = autocorr.loss(fake, lab)
        loss_g = loss_g + cfg.autocorr * acl
    opt_g.zero_grad(set_to_none=True)
    loss_g.backward()
    opt_g.step()
    return loss_g, spec, struct, acl


def _stepper(cfg: TextureGanConfig, session: Session, bank, allowance, spectrum=None,
             structure=None, autocorr=None):
    G, D, ema = (session.nets[k] for k in ("g", "d", "ema"))
    data_gen = session.generators["data"]
    device = bank[0].device

    def step(s: int) -> dict:
        real, lab = random_crops(bank, cfg.batch, cfg.crop, data_gen)
        real, lab = real.to(device), lab.to(device)
        d_real, d_fake, loss_d, r1 = _d_step(cfg, s, G, D, session.opts["d"], real, lab)
        loss_g = spec = struct = acl = None
        if s >= cfg.d_warmup:
            loss_g, spec, struct, acl = _generator_step(cfg, G, D, session.opts["g"], lab,
                                                        allowance, spectrum, structure,
                                                        autocorr)
            loss_g = loss_g.item()
            spec, struct, acl = (None if t is None else t.item() for t in (spec, struct, acl))
        gan.ema_update(ema, G, s, cfg.ema)
        return {"loss_d": loss_d.item(), "loss_g": loss_g, "d_real": d_real.mean().item(),
                "d_fake": d_fake.mean().item(), "r1": None if r1 is None else r1.item(),
                "spectral": spec, "structure": struct, "autocorr": acl}

    return step


def train(cfg: TextureGanConfig, device: torch.device) -> None:
    out = Path(cfg.out)
    bank = [b.to(device) for b in exemplar_bank(cfg.materials, cfg.exemplar_size,
                                                cfg.exemplars_per_material)]
    G, D = (m.to(device) for m in networks(cfg))
    ema = copy.deepcopy(G).eval()
    session = Session(out, cfg, {"g": G, "d": D, "ema": ema},
                      {"g": torch.optim.Adam(G.parameters(), cfg.lr_g, betas=(0.0, 0.99)),
                       "d": torch.optim.Adam(D.parameters(), cfg.lr_d, betas=(0.0, 0.99))},
                      {"step": 0}, meta={"family": FAMILY, "materials": list(cfg.materials)},
                      generators={"data": torch.Generator().manual_seed(cfg.seed + 1)})
    if session.resume({"losses.csv": "step"}, device) is not None:
        session.meta["init_from"] = rundir.read_config(out).get("init_from")
    elif cfg.init_from:
        _init_from(cfg, session)
    elif cfg.init_weights:
        _init_weights(cfg, session)
    allowance = None
    if cfg.stationarity and cfg.stationarity_allowance:
        allowance = profile_allowance(bank).to(device)
        log.info("stationarity allowance per material: %s", ", ".join(
            f"{m} {a:.4f}" for m, a in zip(cfg.materials, allowance.tolist(), strict=True)))
    spectrum = None
    if cfg.spectral:
        spectrum = SpectrumTarget([b.cpu() for b in bank], cfg.crop,
                                  torch.Generator().manual_seed(cfg.seed + 2)).to(device)
    structure = None
    if cfg.structure:
        structure = StructureTarget([b.cpu() for b in bank], cfg.crop,
                                    torch.Generator().manual_seed(cfg.seed + 3)).to(device)
    autocorr = None
    if cfg.autocorr:
        autocorr = AutocorrTarget([b.cpu() for b in bank], cfg.crop,
                                  torch.Generator().manual_seed(cfg.seed + 4)).to(device)
    log.info("training on %s: %s, G, D %s parameters", device, ",".join(cfg.materials),
             n_params(G, D))
    session.train(Stage(
        FAMILY, "step", cfg.steps, _stepper(cfg, session, bank, allowance, spectrum, structure, autocorr),
        "losses.csv",
        COLUMNS, cfg.ckpt_every, cfg.preview_every, postfix=("loss_d", "loss_g"),
        preview=lambda: write_previews(out, ema, cfg.materials, device),
        on_checkpoint=lambda s: (cfg.snapshot_every and s % cfg.snapshot_every == 0
                                 and save_snapshot(out, ema, s))))


def main(argv=None) -> int:
    return train_main(TextureGanConfig, PRESETS, train, argv, "vitrine train texture-gan",
                      __doc__)


if __name__ == "__main__":
    raise SystemExit(main())
