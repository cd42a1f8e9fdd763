"""The model card's picture helper: a rendered frame is cropped to what three.js drew."""

from __future__ import annotations

import numpy as np
from PIL import Image

from generators.texture_gan.card import BACKGROUND, PANEL, _frame


def test_frame_is_cropped_to_the_drawing_on_a_grey_panel(tmp_path):
    px = np.zeros((300, 400, 3), np.uint8)
    px[:] = BACKGROUND
    px[100:150, 200:260] = (200, 40, 40)  # what was drawn
    Image.fromarray(px).save(tmp_path / "f.png")
    out = _frame(tmp_path / "f.png", 128)
    assert out.shape == (128, 128, 3)
    red = (out[..., 0] > 150) & (out[..., 1] < 90)
    assert red.mean() > 0.3  # the drawing fills the panel's width, not 15 % of a frame
    assert not (np.abs(out.astype(int) - BACKGROUND).sum(-1) < 60).any()  # no magenta left
    assert tuple(out[0, 0]) == PANEL
