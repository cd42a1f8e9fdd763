"""`vitrine eval neural-render`: SSIM / PSNR against the offline reference, and time per frame.

    .venv/bin/vitrine eval neural-render [--pairs 24] [--run DIR] [--timing-frames 6]

Held out: the evaluation's scenes use props the training never saw (`dataset.EVAL_SEEDS`) in
layouts and poses from their own RNG stream; their references are rendered with 4x the
training targets' samples (64 sun x 144 bounce per pixel). Rows:

* neural: the shipped shader on each scene's G-buffer (the served path: G-buffer, network in
  the serving precision `session.serving_dtype`, compositing and tone mapping);
* Lambert + ambient: the same G-buffer shaded plainly (the sun's cosine plus the sky as a
  constant; no shadow, no occlusion, no bounce), the baseline;
* reference at 36 x 64: the training targets' sample count against the 64 x 144 reference:
  how noisy the targets are (a ceiling of sorts), and what a cheaper reference costs.

SSIM is Wang et al.'s (Gaussian window, sigma 1.5, on the displayed sRGB picture, mean over
the three channels; scikit-image); PSNR on the same pictures. Time per frame is the median
over `--timing-frames` of the eval scenes, rendered again here, one frame after another on one
torch thread (no pipelining): it includes the G-buffer for neural and baseline. The
side-by-side card (`--card`) shows for four scenes: the G-buffer (albedo, normals, the 1-ray
shadow and 2-ray AO channels), the reference, the neural shader, the baseline.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from generators.neural_render import dataset
from generators.neural_render.gbuffer import render_gbuffer
from generators.neural_render.reference import render_reference
from generators.neural_render.scene import Scene
from generators.neural_render.session import serving_dtype, shade_arrays
from generators.neural_render.shading import lambert_ambient, to_uint8, tonemap

log = logging.getLogger(__name__)

EVAL_SAMPLES = (64, 144)
TRAIN_SAMPLES = (36, 64)
CARD = Path(__file__).resolve().parent / "card" / "side_by_side.png"


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    return float(structural_similarity(a, b, channel_axis=2, data_range=1.0,
                                       gaussian_weights=True, sigma=1.5,
                                       use_sample_covariance=False))


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(peak_signal_noise_ratio(a, b, data_range=1.0))


def neural_picture(shader, full: np.ndarray, half: np.ndarray, background: np.ndarray,
                   dtype: torch.dtype = torch.float32) -> np.ndarray:
    """The served path's picture (`session.shade_arrays`), float [H, W, 3]."""
    return shade_arrays(shader, full, half, background, dtype).numpy()


def baseline_picture(full: np.ndarray, background: np.ndarray) -> np.ndarray:
    albedo = full[0:3].transpose(1, 2, 0).astype(np.float32)
    return tonemap(lambert_ambient(albedo, full[6].astype(np.float32),
                                   full[12].astype(np.float32), background.astype(np.float32)))


def _gbuffer_tile(full: np.ndarray, half: np.ndarray) -> np.ndarray:
    """A 2 x 2 mosaic at the frame's size: albedo, normals, shadow ray, AO rays."""
    def small(img):
        return img[::2, ::2]

    albedo = small(tonemap(full[0:3].transpose(1, 2, 0).astype(np.float32) * 3))
    normal = small(full[3:6].transpose(1, 2, 0).astype(np.float32) * 0.5 + 0.5)
    shadow = np.repeat(half[0].astype(np.float32)[..., None], 3, 2)
    ao = np.repeat(half[1].astype(np.float32)[..., None], 3, 2)
    return np.concatenate([np.concatenate([albedo, normal], 1),
                           np.concatenate([shadow, ao], 1)], 0)


def _time(fn, n: int = 3) -> float:
    ts = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts) * 1000


def _timings(shader, scene: Scene, cam, size: int, dtype: torch.dtype) -> dict[str, float]:
    """Milliseconds per frame of each row's whole path, rendered again from the scene."""
    r = np.random.default_rng(7)

    def neural():
        gb = render_gbuffer(scene, cam, size, size, r)
        neural_picture(shader, gb.full, gb.half, gb.background, dtype)

    def lambert():
        gb = render_gbuffer(scene, cam, size, size, r)
        baseline_picture(gb.full, gb.background)

    return {"neural": _time(neural), "lambert": _time(lambert),
            "reference_36x64": _time(
                lambda: render_reference(scene, cam, size, size, r, *TRAIN_SAMPLES), 1),
            "reference": _time(
                lambda: render_reference(scene, cam, size, size, r, *EVAL_SAMPLES), 1)}


def evaluate(shader, data: Path, pairs: int, timing_frames: int, size: int = 256,
             card: Path | None = CARD, dtype: torch.dtype = torch.float32) -> dict:
    paths = dataset.build(data, "eval", pairs, size, *EVAL_SAMPLES)
    pool = None
    rows = {"neural": [], "lambert": [], "reference_36x64": []}
    times = {"neural": [], "lambert": [], "reference_36x64": [], "reference": []}
    sheet, labels = [], []
    for i, p in enumerate(paths):
        z = dataset.load_pair(p)
        ref = z["reference"].astype(np.float32)
        pred = neural_picture(shader, z["full"], z["half"], z["background"], dtype)
        base = baseline_picture(z["full"], z["background"])
        rows["neural"].append((ssim(ref, pred), psnr(ref, pred)))
        rows["lambert"].append((ssim(ref, base), psnr(ref, base)))
        if pool is None:
            pool = dataset.prop_pool(dataset.EVAL_SEEDS)
        rng = np.random.default_rng([dataset.SPLITS["eval"], i])
        scene = Scene(dataset.random_layout(pool, rng))
        cam = dataset.random_camera(scene, rng)
        cheap, _ = render_reference(scene, cam, size, size, np.random.default_rng(1000 + i),
                                    *TRAIN_SAMPLES)
        rows["reference_36x64"].append((ssim(ref, cheap), psnr(ref, cheap)))
        if i < timing_frames:
            for k, ms in _timings(shader, scene, cam, size, dtype).items():
                times[k].append(ms)
        if len(sheet) < 16:
            sheet += [to_uint8(_gbuffer_tile(z["full"], z["half"])), to_uint8(ref),
                      to_uint8(pred), to_uint8(base)]
            labels += [f"scene {i}: G-buffer", "reference 64x144",
                       f"neural SSIM {rows['neural'][-1][0]:.3f}",
                       f"Lambert+ambient SSIM {rows['lambert'][-1][0]:.3f}"]
        log.info("eval pair %d: SSIM neural %.4f, Lambert %.4f, ref 36x64 %.4f", i,
                 rows["neural"][-1][0], rows["lambert"][-1][0], rows["reference_36x64"][-1][0])
    if card is not None:
        from generators.viz import contact_sheet

        card.parent.mkdir(parents=True, exist_ok=True)
        contact_sheet(sheet, labels, columns=4, path=card)
    ref_ms = statistics.median(times["reference"])
    out = {"pairs": len(paths), "size": size, "eval_samples": list(EVAL_SAMPLES), "rows": {},
           "dtype": str(dtype).removeprefix("torch.")}
    for name, vals in rows.items():
        s = np.array(vals)
        ms = statistics.median(times[name])
        out["rows"][name] = {"ssim_mean": float(s[:, 0].mean()), "ssim_min": float(s[:, 0].min()),
                             "psnr_mean": float(s[:, 1].mean()), "ms_per_frame": ms,
                             "times_less_than_reference": ref_ms / ms}
    out["reference_ms_per_frame"] = ref_ms
    return out


def table(res: dict) -> str:
    names = {"neural": "neural shader", "lambert": "Lambert + ambient (baseline)",
             "reference_36x64": "reference at 36 x 64 samples"}
    lines = [(f"held-out scenes: {res['pairs']} at {res['size']} px, shader in {res['dtype']}; "
              "reference "
              f"{res['eval_samples'][0]} x {res['eval_samples'][1]} samples per pixel, "
              f"{res['reference_ms_per_frame']:.0f} ms a frame"),
             "",
             "| shading | SSIM mean | SSIM min | PSNR dB | ms / frame | x less time than ref |",
             "|---|---|---|---|---|---|"]
    for key, label in names.items():
        r = res["rows"][key]
        lines.append(f"| {label} | {r['ssim_mean']:.4f} | {r['ssim_min']:.4f} | "
                     f"{r['psnr_mean']:.2f} | {r['ms_per_frame']:.1f} | "
                     f"{r['times_less_than_reference']:.0f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="vitrine eval neural-render",
                                 description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=24, help="held-out scenes (default 24)")
    ap.add_argument("--data", type=Path, default=Path("runs/neural-render/data"))
    ap.add_argument("--run", type=Path, help="a training run's EMA shader instead of the "
                    "shipped weights")
    ap.add_argument("--timing-frames", type=int, default=6,
                    help="scenes timed again for ms / frame (default 6)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    ap.add_argument("--card", type=Path, default=CARD, help="side-by-side PNG (default the "
                    "model card's)")
    ap.add_argument("--no-card", action="store_true")
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    torch.set_num_threads(args.threads)
    if args.run:
        from generators.neural_render.model import NeuralShader
        from generators.training import run as rundir

        shader = rundir.load_network(args.run, NeuralShader)
    else:
        from generators.neural_render.generator import NeuralRenderGenerator

        shader = NeuralRenderGenerator().shader
    res = evaluate(shader, args.data, args.pairs, args.timing_frames,
                   card=None if args.no_card else args.card, dtype=serving_dtype())
    print(table(res))
    if args.json:
        args.json.write_text(json.dumps(res, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
