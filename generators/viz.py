"""Quick-look pictures for humans: software-rendered meshes and voxel grids, contact sheets,
and loss curves.

Nothing here needs a GPU or an OpenGL context: meshes are drawn with a painter's-algorithm
rasteriser on top of Pillow's `ImageDraw.polygon` (faces sorted far-to-near), voxel grids go
through scikit-image's marching cubes first, and plots use matplotlib's Agg backend. Every file
written here is written to `<path>.tmp` and renamed into place, so a reader never sees half a PNG.

Conventions: +Y is up. The camera is orthographic and looks at the centre of the mesh's bounding
box; azimuth 0 puts it on the +Z axis and positive azimuth swings it towards +X; positive
elevation raises it above the XZ plane, looking down.
"""

from __future__ import annotations

import csv
import logging
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

log = logging.getLogger(__name__)

RGB = tuple[int, int, int]

FILL_FRACTION = 0.85  # the mesh's projected extent fills this fraction of the frame
AMBIENT = 0.3  # light a face gets whatever its orientation
# Key light, in camera coordinates (right, up, towards the camera): upper left, in front.
KEY_LIGHT_CAMERA = (-0.45, 0.65, 0.6)
LABEL_HEIGHT = 14  # pixels of label strip under each tile of a labelled contact sheet


def _check_rgb(name: str, value: Sequence[int]) -> RGB:
    rgb = tuple(int(c) for c in value)
    if len(rgb) != 3 or not all(0 <= c <= 255 for c in rgb):
        raise ValueError(f"{name} must be three integers in 0..255, got {value!r}")
    return rgb  # type: ignore[return-value]


def _camera_basis(azimuth_deg: float, elevation_deg: float) -> np.ndarray:
    """Rows: right, up, and the unit vector from the target towards the camera (world coords)."""
    az, el = math.radians(azimuth_deg), math.radians(elevation_deg)
    towards = np.array([math.cos(el) * math.sin(az), math.sin(el), math.cos(el) * math.cos(az)])
    right = np.cross([0.0, 1.0, 0.0], towards)
    norm = float(np.linalg.norm(right))
    if norm < 1e-9:  # looking straight down or up: keep the azimuth's notion of "right"
        right = np.array([math.cos(az), 0.0, -math.sin(az)])
    else:
        right /= norm
    up = np.cross(towards, right)
    return np.stack([right, up, towards])


def _check_mesh(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(vertices [V, 3] float64, faces [F, 3]) or ValueError naming what is wrong."""
    verts = np.asarray(vertices, dtype=np.float64)
    tris = np.asarray(faces)
    if verts.ndim != 2 or verts.shape[1] != 3:
        raise ValueError(f"vertices must have shape [V, 3], got {verts.shape}")
    if tris.size == 0:
        return verts, tris
    if tris.ndim != 2 or tris.shape[1] != 3 or not np.issubdtype(tris.dtype, np.integer):
        raise ValueError(f"faces must be integers of shape [F, 3], got {tris.dtype} {tris.shape}")
    if tris.min() < 0 or tris.max() >= len(verts):
        raise ValueError(
            f"faces index vertices 0..{len(verts) - 1}, found {tris.min()}..{tris.max()}"
        )
    return verts, tris


def render_mesh(
    vertices: np.ndarray,
    faces: np.ndarray,
    size: int = 160,
    azimuth_deg: float = 35.0,
    elevation_deg: float = 25.0,
    color: Sequence[int] = (200, 170, 130),
    background: Sequence[int] = (255, 255, 255),
    *,
    supersample: int = 2,
) -> np.ndarray:
    """Render a triangle mesh to an RGB uint8 image of shape [size, size, 3].

    Orthographic camera aimed at the centre of the bounding box of the vertices the faces use,
    the mesh scaled so its projection fills ~85 % of the frame. Flat Lambert shading with a key
    light fixed relative to the camera plus ambient; two-sided (a face turned away from the camera
    is shaded as if flipped). Visibility by painter's algorithm; `supersample` renders at that
    multiple of `size` and box-filters down, which anti-aliases edges. No faces -> background.
    """
    if size < 1:
        raise ValueError(f"size must be >= 1, got {size}")
    if supersample < 1:
        raise ValueError(f"supersample must be >= 1, got {supersample}")
    color_rgb, bg_rgb = _check_rgb("color", color), _check_rgb("background", background)
    verts, tris = _check_mesh(vertices, faces)
    if tris.size == 0:
        return np.full((size, size, 3), bg_rgb, dtype=np.uint8)
    corners = verts[tris]  # [F, 3 corners, xyz]
    if not np.isfinite(corners).all():
        raise ValueError("vertices used by faces must be finite")
    lo, hi = corners.reshape(-1, 3).min(axis=0), corners.reshape(-1, 3).max(axis=0)
    basis = _camera_basis(azimuth_deg, elevation_deg)
    cam = (corners - (lo + hi) / 2) @ basis.T  # [F, 3, (right, up, towards camera)]

    # Shading: face normals, flipped to face the camera, against the camera-fixed key light.
    normals = np.cross(cam[:, 1] - cam[:, 0], cam[:, 2] - cam[:, 0])
    lengths = np.linalg.norm(normals, axis=1)
    keep = lengths > 0  # degenerate faces cover nothing
    normals = normals[keep] / lengths[keep, None]
    normals[normals[:, 2] < 0] *= -1
    light = np.asarray(KEY_LIGHT_CAMERA) / np.linalg.norm(KEY_LIGHT_CAMERA)
    intensity = AMBIENT + (1 - AMBIENT) * np.clip(normals @ light, 0.0, 1.0)
    shades = np.clip(np.rint(intensity[:, None] * np.asarray(color_rgb)), 0, 255).astype(int)

    # Screen space: image centre is the bounding-box centre; row 0 is the top (+Y up).
    full = size * supersample
    half_extent = float(np.abs(cam[..., :2]).max())
    scale = FILL_FRACTION * full / 2 / half_extent if half_extent > 0 else 1.0
    centre = (full - 1) / 2
    cam = cam[keep]
    screen = np.empty(cam.shape[:2] + (2,))
    screen[..., 0] = centre + cam[..., 0] * scale
    screen[..., 1] = centre - cam[..., 1] * scale

    order = np.argsort(cam[:, :, 2].mean(axis=1), kind="stable")  # far (small depth) first
    polygons = screen[order].reshape(-1, 6).tolist()
    fills = [tuple(c) for c in shades[order].tolist()]
    image = Image.new("RGB", (full, full), bg_rgb)
    draw = ImageDraw.Draw(image)
    for polygon, fill in zip(polygons, fills, strict=True):
        # The outline in the fill colour closes hairline cracks between neighbouring faces.
        draw.polygon(polygon, fill=fill, outline=fill)
    if supersample > 1:
        image = image.resize((size, size), Image.Resampling.BOX)
    return np.asarray(image, dtype=np.uint8).copy()


def render_voxels(
    occupancy: np.ndarray, size: int = 160, level: float = 0.5, **kw: Any
) -> np.ndarray:
    """Render an occupancy grid [X, Y, Z] (y up; bool or probabilities) as its `level` surface.

    The grid is padded with one empty (0) cell on every side so the surface closes, meshed with
    marching cubes, and drawn by `render_mesh` (extra keyword arguments go to it). A grid with no
    cell above `level` renders as the background.
    """
    grid = np.asarray(occupancy, dtype=np.float32)
    if grid.ndim != 3:
        raise ValueError(f"occupancy must be a 3-D grid [X, Y, Z], got shape {grid.shape}")
    if not level > 0:
        raise ValueError(f"level must be > 0 (the padding is 0), got {level}")
    empty = np.zeros((0, 3), dtype=np.int64)
    if grid.size == 0 or not np.any(grid > level):
        return render_mesh(np.zeros((0, 3)), empty, size=size, **kw)
    from skimage.measure import marching_cubes  # slow import; only when there is a surface

    padded = np.pad(grid, 1, mode="constant", constant_values=0.0)
    verts, faces, _normals, _values = marching_cubes(padded, level=level)
    return render_mesh(verts, faces, size=size, **kw)


def _atomic_save(save: Any, path: str | os.PathLike[str]) -> None:
    """Call `save(tmp_path)`, then rename tmp_path over `path`; no partial file is ever visible."""
    target = Path(path)
    tmp = target.with_name(target.name + ".tmp")
    try:
        save(tmp)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _fit_text(draw: ImageDraw.ImageDraw, text: str, font: Any, width: int) -> str:
    """`text`, cut short with an ellipsis if it is wider than `width` pixels."""
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text + "…" if text else ""


def contact_sheet(
    images: list[np.ndarray],
    labels: list[str] | None = None,
    columns: int = 8,
    path: str | os.PathLike[str] | None = None,
) -> Image.Image:
    """Tile equal-size images, row-major, into one RGB sheet; optionally save it as PNG.

    Layout: `min(columns, len(images))` columns and `ceil(len(images) / columns)` rows of cells.
    Each cell is an image (w x h) and, when `labels` is given, a `LABEL_HEIGHT`-pixel strip under
    it with the label centred in black; so the sheet is (cols * w, rows * (h + LABEL_HEIGHT)), or
    (cols * w, rows * h) without labels. Unused cells stay white. Images may be [h, w, 3] RGB,
    [h, w, 4] RGBA or [h, w] grey, uint8.
    """
    if not images:
        raise ValueError("contact_sheet needs at least one image")
    if columns < 1:
        raise ValueError(f"columns must be >= 1, got {columns}")
    if labels is not None and len(labels) != len(images):
        raise ValueError(f"got {len(labels)} labels for {len(images)} images")
    tiles = [Image.fromarray(np.asarray(im, dtype=np.uint8)).convert("RGB") for im in images]
    w, h = tiles[0].size
    for i, tile in enumerate(tiles):
        if tile.size != (w, h):
            raise ValueError(f"image {i} is {tile.size[0]}x{tile.size[1]}, image 0 is {w}x{h}")
    cols = min(columns, len(tiles))
    rows = math.ceil(len(tiles) / cols)
    label_h = LABEL_HEIGHT if labels is not None else 0
    sheet = Image.new("RGB", (cols * w, rows * (h + label_h)), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default()
    for i, tile in enumerate(tiles):
        x, y = (i % cols) * w, (i // cols) * (h + label_h)
        sheet.paste(tile, (x, y))
        if labels is not None:
            text = _fit_text(draw, str(labels[i]), font, w - 2)
            if text:
                draw.text(
                    (x + w / 2, y + h + label_h / 2), text, fill=(0, 0, 0), font=font, anchor="mm"
                )
    if path is not None:
        _atomic_save(lambda tmp: sheet.save(tmp, format="PNG"), path)
        log.debug("wrote contact sheet of %d images to %s", len(tiles), path)
    return sheet


def _moving_average(values: np.ndarray, window: int) -> np.ndarray:
    """Trailing mean over `window` points; output i averages values[i : i + window]."""
    sums = np.cumsum(np.insert(values, 0, 0.0))
    return (sums[window:] - sums[:-window]) / window


def _read_series(csv_path: str | os.PathLike[str], columns: tuple[str, ...],
                 ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{column: (steps, values)} of the requested columns of a training-log CSV that have
    values (see `loss_curve_png` for what is skipped and refused)."""
    with open(csv_path, newline="") as f:
        rows = [row for row in csv.reader(f) if any(cell.strip() for cell in row)]
    if not rows or not rows[0] or rows[0][0].strip() != "step":
        raise ValueError(f"{csv_path}: expected a header row whose first column is 'step'")
    header, data = [name.strip() for name in rows[0]], rows[1:]
    if not data:
        raise ValueError(f"{csv_path}: no data rows under the header, nothing to plot")

    series: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name in columns:
        if name not in header:
            log.debug("%s: no column %r, skipped", csv_path, name)
            continue
        col = header.index(name)
        steps, values = [], []
        for row in data:
            if col >= len(row):
                continue
            try:
                step, value = float(row[0]), float(row[col])
            except ValueError:  # empty string or junk (e.g. a line still being written)
                continue
            steps.append(step)
            values.append(value)
        if values:
            series[name] = (np.asarray(steps), np.asarray(values))
    if not series:
        raise ValueError(
            f"{csv_path}: none of the columns {list(columns)} has any values "
            f"(columns present: {header[1:]})"
        )
    return series


def loss_curve_png(
    csv_path: str | os.PathLike[str],
    png_path: str | os.PathLike[str],
    columns: tuple[str, ...] = ("loss_d", "loss_g"),
    smooth: int = 50,
) -> None:
    """Plot columns of a training-log CSV against its first column, `step`, into a PNG.

    Each requested column that exists is drawn raw (faint) and as a trailing moving average of
    `smooth` points (bold; fewer when the column is shorter). Empty or unparsable cells are skipped
    per column, as are requested columns missing from the header. Raises ValueError when the CSV
    has no header starting with `step`, no data rows, or nothing to plot.
    """
    if smooth < 1:
        raise ValueError(f"smooth must be >= 1, got {smooth}")
    series = _read_series(csv_path, columns)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    try:
        for i, (name, (steps, values)) in enumerate(series.items()):
            colour = f"C{i}"
            window = min(smooth, len(values))
            ax.plot(steps, values, color=colour, alpha=0.25, linewidth=0.8)
            ax.plot(
                steps[window - 1 :],
                _moving_average(values, window),
                color=colour,
                linewidth=2.0,
                label=f"{name} (mean of {window})" if window > 1 else name,
            )
        ax.set_xlabel("step")
        ax.set_ylabel("value")
        ax.set_title(f"{', '.join(series)} — {Path(csv_path).name}")
        ax.grid(True, alpha=0.3)
        ax.legend()
        fig.tight_layout()
        _atomic_save(lambda tmp: fig.savefig(tmp, format="png"), png_path)
    finally:
        plt.close(fig)
    log.debug("wrote loss curves %s to %s", list(series), png_path)
