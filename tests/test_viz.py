"""Tests of generators.viz: software mesh/voxel rendering, contact sheets, loss-curve plots."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from generators import viz

WHITE = (255, 255, 255)


def _mask(img: np.ndarray, background: tuple[int, int, int] = WHITE) -> np.ndarray:
    """Pixels that differ from the background."""
    return np.any(img != np.asarray(background, dtype=np.uint8), axis=-1)


def _extent(mask: np.ndarray) -> tuple[int, int]:
    """(height, width) of the bounding box of a mask."""
    rows, cols = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
    return int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1)


def _sphere_grid(res: int = 32, radius: float = 12.0) -> np.ndarray:
    x, y, z = np.indices((res, res, res)) - (res - 1) / 2
    return (x**2 + y**2 + z**2) <= radius**2


def _uv_sphere(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Unit sphere with 2 * n * n triangles."""
    theta, phi = np.meshgrid(
        np.linspace(0, np.pi, n + 1), np.linspace(0, 2 * np.pi, n + 1), indexing="ij"
    )
    verts = np.stack(
        [np.sin(theta) * np.cos(phi), np.cos(theta), np.sin(theta) * np.sin(phi)], axis=-1
    ).reshape(-1, 3)
    idx = np.arange((n + 1) ** 2).reshape(n + 1, n + 1)
    a, b, c, d = idx[:-1, :-1], idx[1:, :-1], idx[1:, 1:], idx[:-1, 1:]
    faces = np.concatenate(
        [np.stack([a, b, c], -1).reshape(-1, 3), np.stack([a, c, d], -1).reshape(-1, 3)]
    )
    return verts, faces


def test_sphere_voxels_render_centred_round_and_shaded():
    size = 128
    img = viz.render_voxels(_sphere_grid(), size=size)
    assert img.shape == (size, size, 3) and img.dtype == np.uint8
    mask = _mask(img)

    coverage = mask.mean()
    assert 0.3 < coverage < 0.8, coverage  # a disc 85 % of the frame across covers ~0.57
    rows, cols = np.nonzero(mask)
    centre = (size - 1) / 2
    assert abs(rows.mean() - centre) < 0.05 * size and abs(cols.mean() - centre) < 0.05 * size
    height, width = _extent(mask)
    assert abs(height - width) <= 0.1 * size
    assert 0.75 * size < width < 0.95 * size
    assert 0.7 < mask.sum() / (height * width) < 0.85  # a disc fills pi/4 of its bounding box

    # Shaded, not a flat silhouette: many grey levels, and lit from the upper left.
    grey = img.astype(float).mean(axis=-1)
    assert len(np.unique(grey[mask].round())) >= 10
    assert grey[mask].std() > 10
    half = size // 2
    upper_left = grey[:half, :half][mask[:half, :half]].mean()
    lower_right = grey[half:, half:][mask[half:, half:]].mean()
    assert upper_left > lower_right + 20


def test_tall_box_renders_taller_than_wide():
    box = np.zeros((24, 24, 24), dtype=bool)
    box[8:16, 2:22, 8:16] = True  # 8 wide (x), 20 tall (y), 8 deep (z)
    height, width = _extent(_mask(viz.render_voxels(box, size=120)))
    assert height > 1.5 * width
    front = _mask(viz.render_voxels(box, size=120, azimuth_deg=0, elevation_deg=0))
    height, width = _extent(front)
    assert 2.3 < height / width < 2.7  # exactly 20 / 8 up to pixel rounding


def test_y_is_up_and_image_row_zero_is_the_top():
    # A triangle with its apex at +Y, seen from the front: narrow at the top of the image.
    verts = np.array([[-1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 2.0, 0.0]])
    img = viz.render_mesh(verts, np.array([[0, 1, 2]]), size=64, azimuth_deg=0, elevation_deg=0)
    widths = _mask(img).sum(axis=1)
    rows = np.nonzero(widths)[0]
    assert widths[rows[0] + 2] < widths[rows[-1] - 2] / 4

    # A mushroom voxel grid (wide cap on a thin stem): wider in the top half of the image.
    shroom = np.zeros((24, 24, 24), dtype=bool)
    shroom[10:14, 2:14, 10:14] = True
    shroom[4:20, 14:18, 4:20] = True
    mask = _mask(viz.render_voxels(shroom, size=96, azimuth_deg=0, elevation_deg=0))
    assert mask[:48].sum(axis=1).max() > 3 * mask[48:].sum(axis=1).max()


def test_nearer_face_hides_farther_face_whatever_the_face_order():
    # Seen from +Z: a small square facing the camera at z=+1 in front of a big square tilted
    # away at z=-1 (so it is shaded differently). The centre pixel must show the near square.
    near = [[-0.5, -0.5, 1.0], [0.5, -0.5, 1.0], [0.5, 0.5, 1.0], [-0.5, 0.5, 1.0]]
    far = [[-2.0, -2.0, -2.0], [2.0, -2.0, -2.0], [2.0, 2.0, 0.0], [-2.0, 2.0, 0.0]]
    verts = np.array(near + far, dtype=float)
    quads = np.array([[0, 1, 2], [0, 2, 3], [4, 5, 6], [4, 6, 7]])
    kw = {"size": 65, "azimuth_deg": 0.0, "elevation_deg": 0.0, "supersample": 1}
    near_only = viz.render_mesh(verts, quads[:2], **kw)
    far_only = viz.render_mesh(verts, quads[2:], **kw)
    both = viz.render_mesh(verts, quads, **kw)
    both_reversed = viz.render_mesh(verts, quads[::-1].copy(), **kw)

    assert not np.array_equal(near_only[32, 32], far_only[32, 32])  # the test can tell them apart
    for img in (both, both_reversed):
        assert np.array_equal(img[32, 32], near_only[32, 32])
        assert np.array_equal(img[3, 32], far_only[3, 32])  # outside the near square
    assert np.array_equal(both, both_reversed)


def test_shading_is_two_sided():
    verts = np.array([[-1.0, -1.0, 0.0], [1.0, -1.0, 0.0], [0.0, 1.0, 0.0]])
    kw = {"size": 32, "azimuth_deg": 0.0, "elevation_deg": 0.0}
    front = viz.render_mesh(verts, np.array([[0, 1, 2]]), **kw)
    back = viz.render_mesh(verts, np.array([[0, 2, 1]]), **kw)  # opposite winding
    assert np.array_equal(front, back)
    lit = front[20, 16].astype(int)  # inside the triangle, facing the camera
    assert lit.mean() > 0.6 * np.mean((200, 170, 130)) and (lit < 255).any()


def test_empty_inputs_render_background():
    bg = (10, 20, 30)
    empty = viz.render_voxels(np.zeros((16, 16, 16), dtype=bool), size=40, background=bg)
    assert empty.shape == (40, 40, 3) and empty.dtype == np.uint8
    assert (empty == np.array(bg, dtype=np.uint8)).all()
    below_level = viz.render_voxels(np.full((8, 8, 8), 0.4), size=20, level=0.5)
    assert (below_level == 255).all()
    no_faces = viz.render_mesh(np.zeros((5, 3)), np.zeros((0, 3), dtype=int), size=24)
    assert no_faces.shape == (24, 24, 3) and (no_faces == 255).all()
    # Probabilities above the level are a surface.
    assert _mask(viz.render_voxels(np.full((8, 8, 8), 0.9), size=20)).any()


def test_render_mesh_rejects_bad_input():
    verts = np.zeros((3, 3))
    with pytest.raises(ValueError, match="faces index"):
        viz.render_mesh(verts, np.array([[0, 1, 3]]))
    with pytest.raises(ValueError, match="vertices"):
        viz.render_mesh(np.zeros((3, 2)), np.array([[0, 1, 2]]))
    with pytest.raises(ValueError, match="occupancy"):
        viz.render_voxels(np.zeros((4, 4)))


def test_fifty_thousand_faces_render_quickly():
    verts, faces = _uv_sphere(160)
    assert len(faces) == 51200
    viz.render_mesh(verts, faces[:10], size=32)  # warm-up
    start = time.perf_counter()
    img = viz.render_mesh(verts, faces)
    elapsed = time.perf_counter() - start
    assert img.shape == (160, 160, 3)
    assert elapsed < 3.0, elapsed  # ~0.2 s on one busy core; generous for a shared CI box


def test_contact_sheet_layout(tmp_path: Path):
    h, w = 24, 32
    images = [np.full((h, w, 3), (i * 20, 100, 200 - i * 10), dtype=np.uint8) for i in range(10)]
    path = tmp_path / "sheet.png"
    sheet = viz.contact_sheet(images, [f"seed {i}" for i in range(10)], columns=4, path=path)
    assert viz.LABEL_HEIGHT > 0
    assert sheet.size == (4 * w, 3 * (h + viz.LABEL_HEIGHT))
    pixels = np.asarray(sheet)
    for i in (0, 5, 9):
        row, col = divmod(i, 4)
        top, left = row * (h + viz.LABEL_HEIGHT), col * w
        assert (pixels[top : top + h, left : left + w] == images[i]).all()
    label_strip = pixels[h : h + viz.LABEL_HEIGHT, 0:w]
    assert (label_strip < 128).any()  # some text was drawn
    assert (pixels[2 * (h + viz.LABEL_HEIGHT) :, 2 * w :] == 255).all()  # unused cells stay blank

    with Image.open(path) as saved:
        assert saved.format == "PNG" and saved.size == sheet.size
    assert not path.with_name("sheet.png.tmp").exists()

    unlabelled = viz.contact_sheet(images, columns=4)
    assert unlabelled.size == (4 * w, 3 * h)
    assert viz.contact_sheet(images[:3], columns=8).size == (3 * w, h)


def test_contact_sheet_rejects_mismatches():
    a, b = np.zeros((8, 8, 3), np.uint8), np.zeros((8, 9, 3), np.uint8)
    with pytest.raises(ValueError, match="image 1"):
        viz.contact_sheet([a, b])
    with pytest.raises(ValueError, match="labels"):
        viz.contact_sheet([a, a], labels=["one"])
    with pytest.raises(ValueError):
        viz.contact_sheet([])


def test_loss_curve_png(tmp_path: Path):
    csv_path, png_path = tmp_path / "log.csv", tmp_path / "loss.png"
    lines = ["step,loss_d,loss_g,gp"]
    for step in range(200):
        loss_g = "" if step % 7 == 0 else f"{2.0 - step / 200:.4f}"  # sparse column
        lines.append(f"{step},{1.0 + np.sin(step / 10):.4f},{loss_g},")  # gp always empty
    csv_path.write_text("\n".join(lines) + "\n")

    viz.loss_curve_png(csv_path, png_path, columns=("loss_d", "loss_g", "missing"), smooth=20)
    with Image.open(png_path) as img:
        assert img.format == "PNG" and img.size[0] > 200 and img.size[1] > 100
    assert not (tmp_path / "loss.png.tmp").exists()

    # Only an empty column requested: nothing to plot.
    with pytest.raises(ValueError, match="any values"):
        viz.loss_curve_png(csv_path, tmp_path / "gp.png", columns=("gp",))
    assert not (tmp_path / "gp.png").exists()


def test_loss_curve_png_header_only_csv_raises(tmp_path: Path):
    csv_path, png_path = tmp_path / "log.csv", tmp_path / "loss.png"
    csv_path.write_text("step,loss_d,loss_g\n")
    with pytest.raises(ValueError, match="no data rows"):
        viz.loss_curve_png(csv_path, png_path)
    assert not png_path.exists() and not (tmp_path / "loss.png.tmp").exists()
    csv_path.write_text("epoch,loss_d\n1,0.5\n")
    with pytest.raises(ValueError, match="step"):
        viz.loss_curve_png(csv_path, png_path)
