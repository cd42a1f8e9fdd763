"""voxel-gan networks: the sub-pixel inference head computes the same function."""

import pytest
import torch
from torch import nn

from generators.voxel_gan.model import SubPixelUp, VoxelGenerator, for_inference


@pytest.mark.parametrize("cout", [1, 3])
def test_subpixel_up_matches_the_transposed_conv(cout):
    torch.manual_seed(0)
    ct = nn.ConvTranspose3d(5, cout, 4, 2, 1)
    sub = SubPixelUp(ct)
    x = torch.randn(4, 5, 6, 7, 5)  # non-cubic, so a swapped axis would show
    with torch.no_grad():
        assert torch.allclose(sub(x), ct(x), atol=1e-5)
        assert torch.equal(sub(x[:1]), ct(x[:1]))  # batch 1 is the very same op


def test_subpixel_up_refuses_other_geometries():
    with pytest.raises(ValueError, match="kernel 4, stride 2, padding 1"):
        SubPixelUp(nn.ConvTranspose3d(4, 1, 3, 2, 1))


def test_for_inference_keeps_the_generator_and_its_outputs():
    torch.manual_seed(1)
    G = VoxelGenerator(z_dim=8, n_classes=3, channels=(8, 4, 2)).eval()
    fast = for_inference(G)
    z, lab = torch.randn(5, 8), torch.tensor([0, 1, 2, 0, 1])
    with torch.no_grad():
        assert torch.allclose(fast(z, lab), G(z, lab), atol=1e-5)
        assert torch.equal(fast(z[:1], lab[:1]), G(z[:1], lab[:1]))
    assert isinstance(G.ups[-1], nn.ConvTranspose3d)  # the original is untouched
