"""Draw the texture-gan model card's pictures: each material as a designer sees it.

    .venv/bin/python -m generators.texture_gan.card --out generators/texture_gan/card

Per material, one contact-sheet row (`materials.png`): the exemplar (a 512-px held-out crop;
brick, grass and gravel: the photo), the generated base colour at 512 px, the same texture
tiled 2 x 2 (a seam would show as a cross), and frames rendered by three.js (GLTFLoader in
headless Chromium, `tests/support/consumers.three_load`) of the served `preview.glb` -- the
1 m quad showing the maps 2 x 2 -- and, for the materials that props wear, of a procedural
prop wearing it (`PROPS`; a prop takes its maps from the loaded texture-gan, as served).
Written as `materials_1.jpg` and `materials_2.jpg` (rows of 5 panels, each shown at
`PANEL_PX`; JPEG quality 85, to keep the card's pictures near a megabyte each).

A development tool: it needs Node.js, the repository's npm packages and Chromium (what `make
test` installs), and the repository checkout (it imports the test support code).
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from generators.texture.exemplars import PHOTO_MATERIALS, exemplar
from generators.viz import contact_sheet

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[2]
# The prop each material is shown on (category, material option): columns wear marble.
PROPS: dict[str, tuple[str, str]] = {"marble": ("column", "marble"), "wood": ("table", "wood"),
                                      "stone": ("vase", "stone"), "fabric": ("bench", "fabric")}
PANEL_PX = 384  # each panel's edge in the sheet (the textures are made at --size)
JPEG_QUALITY = 85
FRAME = (768, 768)  # three.js frame width, height (cropped to the drawn part)


def _three_load():
    sys.path.insert(0, str(REPO / "tests"))
    try:
        from support.consumers import three_load
    except ImportError as err:  # pragma: no cover - outside a checkout
        raise SystemExit(f"card: needs the repository's tests/support ({err})") from err
    return three_load


def _u8(x: np.ndarray) -> np.ndarray:
    return (np.clip(x, 0, 1) * 255).round().astype(np.uint8)


BACKGROUND = (255, 0, 255)  # three_page.html's clear colour
PANEL = (235, 235, 235)


def _frame(path: Path, size: int) -> np.ndarray:
    """The rendered frame cropped to what was drawn (plus a margin), background grey, fitted
    into a size x size panel."""
    px = np.asarray(Image.open(path).convert("RGB")).copy()
    bg = (np.abs(px.astype(int) - BACKGROUND).sum(-1) < 60)
    px[bg] = PANEL
    rows, cols = np.where(~bg)
    if rows.size:
        m = 8
        px = px[max(rows.min() - m, 0):rows.max() + m, max(cols.min() - m, 0):cols.max() + m]
    img = Image.fromarray(px)
    scale = size / max(img.width, img.height)
    img = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))),
                     Image.Resampling.LANCZOS)
    panel = Image.new("RGB", (size, size), PANEL)
    panel.paste(img, ((size - img.width) // 2, (size - img.height) // 2))
    return np.asarray(panel)


def render(out: Path, seed: int = 1, size: int = 512) -> list[Path]:
    from generators.core.registry import load_models
    from generators.pipeline import Pipeline
    from generators.texture_gan.generator import TextureGanGenerator

    three_load = _three_load()
    served = TextureGanGenerator()
    models = load_models(["texture-gan", "procedural"])
    pipe = Pipeline(models)
    out.mkdir(parents=True, exist_ok=True)
    glbs, names = [], []
    for m in served.materials:
        built = pipe.build([pipe.prepare("texture-gan", m, seed, {"texture_size": size})])[0]
        glbs.append(next(f.data for f in built.files if f.name == "preview.glb"))
        names.append(f"{m} preview")
        if m in PROPS:
            category, material = PROPS[m]
            built = pipe.build([pipe.prepare("procedural", category, seed,
                                             {"material": material})])[0]
            glbs.append(built.files[-1].data)  # lod0: the finest
            names.append(f"{m} on a {category}")
    with tempfile.TemporaryDirectory(prefix="tgan-card-") as tmp:
        shots = [Path(tmp) / f"{i}.png" for i in range(len(glbs))]
        reports = three_load(glbs, play=False, names=names, screenshots=shots,
                             width=FRAME[0], height=FRAME[1])
        bad = [r["path"] for r in reports if not r.get("ok")]
        if bad:
            raise RuntimeError(f"three.js did not load {bad}")
        frames = {n: _frame(s, size) for n, s in zip(names, shots, strict=True)}
    images, labels = [], []
    for i, m in enumerate(served.materials):
        ex = exemplar(m, size, 0 if m in PHOTO_MATERIALS else 1000)
        pbr = served.maps(m, seed, size)
        tiled = np.tile(served.maps(m, seed + 1, size // 2).base_color, (2, 2, 1))
        pad = np.full((size, size, 3), 255, np.uint8)
        row = [_u8(ex.albedo), pbr.base_color, tiled]
        for name in (f"{m} preview", next((n for n in names if n.startswith(f"{m} on")), None)):
            if name is None:
                row.append(pad)
                continue
            row.append(frames[name])
        images += row
        labels += [f"{m} exemplar", f"{m} generated {size} px", f"{m} {size // 2} px tiled 2x2",
                   f"{m} preview quad (three.js)",
                   next((n for n in names if n.startswith(f"{m} on")), "(not a prop material)")
                   + (" (three.js)" if m in PROPS else "")]
        log.info("%s: row %d done", m, i)
    images = [np.asarray(Image.fromarray(im).resize((PANEL_PX, PANEL_PX),
                                                    Image.Resampling.LANCZOS)) for im in images]
    paths = []
    half = (len(served.materials) + 1) // 2
    with tempfile.TemporaryDirectory(prefix="tgan-card-") as tmp:
        for k, (lo, hi) in enumerate(((0, half), (half, len(served.materials)))):
            sheet = Path(tmp) / f"{k}.png"
            contact_sheet(images[5 * lo:5 * hi], labels[5 * lo:5 * hi], columns=5, path=sheet)
            p = out / f"materials_{k + 1}.jpg"
            Image.open(sheet).convert("RGB").save(p, quality=JPEG_QUALITY, optimize=True)
            paths.append(p)
    return paths


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m generators.texture_gan.card",
                                 description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(REPO / "generators" / "texture_gan" / "card"))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--size", type=int, default=512)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for p in render(Path(args.out), args.seed, args.size):
        print(p)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
