"""character-gan networks: shapes, config round trip, the PCA basis decodes what it encodes,
and D's minibatch-std feature keeps R1's double backward finite."""

import torch

from generators.character_gan.model import BodyDiscriminator, BodyGenerator
from generators.training import gan


def _basis(k=3, v=5):
    q, _ = torch.linalg.qr(torch.randn(v * 3, k))
    return torch.randn(v * 3), q.T.contiguous(), torch.rand(k) + 0.5


def test_shapes_and_config():
    G = BodyGenerator(z_dim=4, n_classes=5, components=3, n_vertices=5, hidden=(8, 8),
                      embed_dim=2)
    D = BodyDiscriminator(components=3, n_classes=5, hidden=(8,))
    z, lab = torch.randn(8, 4), torch.arange(8) % 5
    c = G(z, lab)
    assert c.shape == (8, 3) and G.decode(c).shape == (8, 5, 3)
    assert D(c, lab).shape == (8,)
    assert BodyGenerator(**G.config()).config() == G.config()
    assert BodyDiscriminator(**D.config()).config() == D.config()


def test_decode_inverts_encode_in_the_basis_span():
    G = BodyGenerator(z_dim=4, n_classes=2, components=3, n_vertices=5, hidden=(8,))
    G.set_basis(*_basis())
    c = torch.randn(6, 3)
    assert torch.allclose(G.encode(G.decode(c)), c, atol=1e-4)
    # The basis is state: it travels with the weights.
    assert {"mean", "basis", "scale"} <= set(G.state_dict())


def test_r1_through_minibatch_std_is_finite_even_for_identical_samples():
    D = BodyDiscriminator(components=3, n_classes=2, hidden=(8,))
    real = torch.ones(8, 3, requires_grad=True)  # zero spread in every group
    lab = torch.zeros(8, dtype=torch.long)
    penalty = gan.r1_penalty(D(real, lab), real)
    penalty.backward()
    assert torch.isfinite(penalty)
    assert all(torch.isfinite(p.grad).all() for p in D.parameters() if p.grad is not None)
