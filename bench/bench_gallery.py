"""gallery benchmark: one request of 6, 12 and 24 exhibits, cold, as the server runs it.

    .venv/bin/python bench/bench_gallery.py                 # 6/12/24 exhibits, every theme
    .venv/bin/python bench/bench_gallery.py --exhibits 24 --themes sculpture-hall

Loads the models the way the server does (`load_models`, once, not timed), then times one
gallery request per row along `Pipeline.build`'s path (validate, generate, export, sha256):
every exhibit generated through its prop model, the layout, the shell's maps and the GLB
export; "exhibits s" is the part spent generating the exhibits. Each row uses a seed no earlier row
used, so nothing is warm but the loaded models and the process (one small gallery is made
first, untimed, as a serving process has made one; the server's asset cache never holds a
gallery's exhibits either: they are generated inside the gallery's own request). The GLB of
every row is validated with the Khronos glTF-Validator. Prints a Markdown table; the target
(issue 18) is 24 exhibits in <= 10 s on this machine. Quote figures with the load average
printed next to them: other jobs on a 2-core machine slow every row.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import torch
from support.gltf_validator import validate_glb

from generators.core.registry import load_models
from generators.export import export_asset
from generators.gallery.generator import THEMES
from generators.pipeline import Pipeline


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--exhibits", default="6,12,24", help="comma-separated exhibit counts")
    ap.add_argument("--themes", default=",".join(THEMES), help="comma-separated themes")
    ap.add_argument("--seed", type=int, default=1000, help="first seed (each row its own)")
    ap.add_argument("--texture-size", type=int, default=None,
                    help="exhibits' texture_size (default: the model's)")
    ap.add_argument("--threads", type=int, default=max(1, (os.cpu_count() or 1) // 2),
                    help="torch intra-op threads (default: what `vitrine serve` sets with its "
                         "2 workers, cores / 2)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    pipe = Pipeline(load_models(["gallery"]))
    load_s = time.perf_counter() - t0
    # One small gallery first, untimed: a server's first request pays one-time start-up costs
    # (lazy kernel and library initialisation) that no later request does.
    warm = pipe.prepare("gallery", "sculpture-hall", 1, {"exhibits": 6})
    pipe.build([warm])
    print(f"# gallery benchmark ({platform.machine()}, {os.cpu_count()} cores, torch "
          f"{torch.__version__}, {torch.get_num_threads()} threads; models loaded in "
          f"{load_s:.1f} s and one 6-exhibit gallery made first, neither counted)\n")
    print("| theme | exhibits | texture | wall s (cold) | exhibits s | GLB MB | triangles | room m | "
          "validator errors/warnings | load avg (1 min) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    seed = args.seed
    for n in (int(x) for x in args.exhibits.split(",")):
        for theme in args.themes.split(","):
            t = time.perf_counter()
            options = {"exhibits": n}
            if args.texture_size:
                options["texture_size"] = args.texture_size
            job = pipe.prepare("gallery", theme, seed, options)
            asset = job.model.generate([job.spec])[0]
            if isinstance(asset, Exception):
                raise SystemExit(f"{theme} x {n}: {asset}")
            glb = export_asset(asset)[0]
            hashlib.sha256(glb.data).hexdigest()
            wall = time.perf_counter() - t
            seed += 1
            report = validate_glb([glb.data])[0]
            meta = asset.metadata
            print(f"| {theme} | {n} | {job.spec.options['texture_size']} | {wall:.2f} | {meta['exhibits_generate_ms'] / 1e3:.2f} | "
                  f"{len(glb.data) / 1e6:.1f} | {glb.triangles} | "
                  f"{' x '.join(f'{x:g}' for x in meta['room_m'])} | "
                  f"{report['numErrors']}/{report['numWarnings']} | "
                  f"{os.getloadavg()[0]:.1f} |", flush=True)


if __name__ == "__main__":
    main()
