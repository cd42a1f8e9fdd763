"""GAN helpers: EMA ramp, hinge, R1, WGAN-GP at any rank, mode seeking."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from generators.training import gan


def test_ema_follows_the_warm_up_ramp_and_copies_buffers():
    net = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    ema = copy.deepcopy(net)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(1.0)
        net[1].running_mean.fill_(3.0)
    before = [p.clone() for p in ema.parameters()]
    gan.ema_update(ema, net, step=0, decay=0.999)  # beta = min(0.999, 1/10) = 0.1
    for b, e, n in zip(before, ema.parameters(), net.parameters(), strict=True):
        assert torch.allclose(e, 0.1 * b + 0.9 * n)
    assert torch.equal(ema[1].running_mean, net[1].running_mean)
    late = copy.deepcopy(ema)
    gan.ema_update(late, net, step=10**6, decay=0.5)  # the ramp is past: beta = decay
    for b, e, n in zip(ema.parameters(), late.parameters(), net.parameters(), strict=True):
        assert torch.allclose(e, 0.5 * b + 0.5 * n)


def test_hinge_is_zero_beyond_the_margins():
    assert gan.hinge_d(torch.full((4,), 2.0), torch.full((4,), -2.0)) == 0
    assert gan.hinge_d(torch.zeros(4), torch.zeros(4)) == 2


def test_r1_is_the_squared_input_gradient():
    w = torch.tensor([3.0, 4.0], requires_grad=True)
    x = torch.randn(5, 2, requires_grad=True)
    penalty = gan.r1_penalty(x @ w, x)  # grad = w everywhere: |w|^2 = 25
    assert torch.isclose(penalty, torch.tensor(25.0))
    penalty.backward()  # the graph was kept: the penalty trains D
    assert torch.allclose(w.grad, 2 * w.detach())


@pytest.mark.parametrize("shape", [(6, 3), (6, 1, 4, 4, 4), (6, 5, 8, 8)])
def test_gradient_penalty_at_any_rank(shape):
    def D(x, lab):  # a linear critic with |grad| = 2 at every point
        return 2 * x.flatten(1)[:, 0] + 0 * lab

    real, fake = torch.randn(shape), torch.randn(shape)
    gp = gan.gradient_penalty(D, real, fake, torch.zeros(shape[0]))
    assert torch.isclose(gp, torch.tensor(1.0))  # (2 - 1)^2


def test_mode_seeking_rewards_outputs_that_move_with_z():
    z = torch.randn(8, 4)
    moving = z.repeat(1, 3) * 5
    still = torch.zeros(8, 12)
    assert gan.mode_seeking(moving, z) < gan.mode_seeking(still, z)
    assert torch.isclose(gan.mode_seeking(z, z), torch.tensor(0.0), atol=1e-4)


def test_class_grouped_batches_hold_one_class_per_minibatch_std_group():
    from generators.training.gan import class_grouped

    labels_of = torch.tensor([0, 0, 1, 1, 1, 2])
    by_class = [torch.nonzero(labels_of == c).flatten() for c in range(3)]
    idx, labels = class_grouped(by_class, 12, 4)
    assert idx.shape == labels.shape == (12,)
    assert torch.equal(labels_of[idx], labels)  # every index is of its label's class
    groups = labels.view(4, 3)  # the view D's minibatch-std takes
    assert (groups == groups[0]).all()
    with pytest.raises(ValueError, match="multiple of 4"):
        class_grouped(by_class, 10, 4)
