"""character-gan data: the splits never share a body, bodies stand on the floor in metres,
and the PCA basis is orthonormal and reconstructs its training bodies."""

import numpy as np
import pytest

from generators.character_gan import data


def test_splits_are_disjoint_and_deterministic():
    cats = data.categories()[:2]
    tr, tl = data.bodies("train", 3, cats)
    ho, hl = data.bodies("heldout", 3, cats)
    assert tr.shape == (6, data.faces().max() + 1, 3) and list(tl) == [0, 0, 0, 1, 1, 1]
    d = np.abs(tr[:, None] - ho[None]).max(axis=(2, 3))
    assert d.min() > 1e-3  # no held-out body is a training body
    assert np.array_equal(tr[0], data.body_vertices(cats[0], 1))
    assert abs(tr[..., 1].min(axis=1)).max() < 1e-4  # feet on y = 0
    assert (0.8 < tr[..., 1].max(axis=1)).all() and (tr[..., 1].max(axis=1) < 2.5).all()


def test_pca_is_orthonormal_and_reconstructs():
    x, _ = data.bodies("train", 4, data.categories())
    mean, basis, scale, kept = data.pca(x, 8)
    assert np.allclose(basis @ basis.T, np.eye(8), atol=1e-4)
    assert 0.9 < kept <= 1.0 and (np.diff(scale) <= 1e-6).all()
    flat = x.reshape(len(x), -1) - mean
    recon = flat @ basis.T @ basis
    # Twenty bodies in 8 components: most of the shape is kept (well under a centimetre RMS).
    assert np.sqrt(((recon - flat) ** 2).mean()) < 0.01


def test_bad_split_and_too_many_components():
    with pytest.raises(ValueError, match="unknown split"):
        data.bodies("test", 2, data.categories())
    x, _ = data.bodies("train", 2, data.categories()[:1])
    with pytest.raises(ValueError, match="components"):
        data.pca(x, 5)
