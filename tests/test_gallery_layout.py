"""Gallery layout rules: aisles, doorways, walls, sight lines, plinths, room sizing."""

import itertools

import numpy as np
import pytest

from generators.core.errors import InvalidOption
from generators.gallery import layout as L


def feet(n: int, seed: int = 0) -> list[L.Footprint]:
    """Prop-like footprints: vases, chairs, benches, columns (bottom-centre pivots)."""
    rng = np.random.default_rng(seed)
    kinds = [(0.2, 0.35, 0.2), (0.55, 0.9, 0.5), (1.6, 0.45, 0.45), (0.8, 3.1, 0.8),
             (1.05, 0.75, 0.7)]
    out = []
    for _ in range(n):
        w, h, d = kinds[int(rng.integers(len(kinds)))]
        s = rng.uniform(0.8, 1.2)
        off = rng.uniform(-0.05, 0.05, 2)  # a pivot not quite at the footprint's centre
        out.append(L.Footprint((-w * s / 2 + off[0], 0.0, -d * s / 2 + off[1]),
                               (w * s / 2 + off[0], h * s, d * s / 2 + off[1])))
    return out


def gap(a, b) -> float:
    """Clear distance between two floor rectangles (x0, z0, x1, z1); <= 0 when they touch."""
    dx = max(a[0] - b[2], b[0] - a[2])
    dz = max(a[1] - b[3], b[1] - a[3])
    return max(dx, dz)


@pytest.mark.parametrize("n", [1, 2, 7, 24, 48])
def test_stands_keep_aisles_walls_and_doorways(n):
    f = feet(n, seed=n)
    plan = L.plan(f)
    assert len(plan.stands) == n and [s.index for s in plan.stands] == list(range(n))
    for a, b in itertools.combinations(plan.stands, 2):
        assert gap(a.rect, b.rect) >= L.AISLE_M - 1e-9, (a, b)
    for s in plan.stands:
        x0, z0, x1, z1 = s.rect
        assert -plan.width / 2 + L.WALL_GAP_M - 1e-9 <= x0 and x1 <= plan.width / 2 + 1e-9
        assert -plan.depth / 2 + L.WALL_GAP_M - 1e-9 <= z0
        # The front of every stand leaves an aisle before the entrance wall.
        assert z1 <= plan.depth / 2 - L.AISLE_M + 1e-9
        # Nothing stands in the walkway joining the doors (so in no doorway).
        assert x1 <= -L.WALKWAY_M / 2 + 1e-9 or x0 >= L.WALKWAY_M / 2 - 1e-9
        for d0, d1, _ in plan.doors():
            assert x1 <= d0 - L.DOOR_CLEARANCE_M + 1e-9 or x0 >= d1 + L.DOOR_CLEARANCE_M - 1e-9
    assert plan.height >= max(L.top_height(x) for x in f) + L.HEADROOM_M


def test_exhibits_sit_on_their_plinths():
    f = feet(12, seed=3)
    for s, x in zip(L.plan(f).stands, f):
        w, h, d = s.plinth
        assert h == L.plinth_height(x)
        assert s.exhibit[1] + x.lo[1] == pytest.approx(h)  # lowest point on the plinth top
        lo_x, hi_x = s.exhibit[0] + x.lo[0], s.exhibit[0] + x.hi[0]
        lo_z, hi_z = s.exhibit[2] + x.lo[2], s.exhibit[2] + x.hi[2]
        assert s.x - w / 2 <= lo_x and hi_x <= s.x + w / 2
        assert s.z - d / 2 <= lo_z and hi_z <= s.z + d / 2
        assert min(w, d) >= L.MIN_PLINTH_M


def test_plinths_by_size():
    box = lambda w, h, d: L.Footprint((-w / 2, 0, -d / 2), (w / 2, h, d / 2))
    assert L.plinth_height(box(0.2, 0.35, 0.2)) == 0.9  # a vase at eye level
    assert L.plinth_height(box(0.5, 0.9, 0.5)) == 0.3  # a chair
    assert L.plinth_height(box(1.6, 0.45, 0.4)) == 0.3  # a bench: furniture, though low
    assert L.plinth_height(box(0.8, 3.0, 0.8)) == 0.1  # a column on a base


def test_tall_exhibits_stand_behind_short_ones():
    """Sight lines: on each side, a stand in front of another (nearer the entrance, their
    x ranges overlapping) holds an exhibit reaching no higher."""
    f = feet(24, seed=5)
    stands = L.plan(f).stands
    for a, b in itertools.permutations(stands, 2):
        same_side = np.sign(a.x) == np.sign(b.x)
        overlap = a.rect[0] < b.rect[2] and b.rect[0] < a.rect[2]
        if same_side and overlap and a.z > b.z:
            assert L.top_height(f[a.index]) <= L.top_height(f[b.index]) + 1e-9


def test_chosen_room_is_compact_and_on_the_grid():
    plan = L.plan(feet(24, seed=1))
    for size in (plan.width, plan.depth):
        assert size % L.ROOM_STEP_M == 0 and size >= L.MIN_ROOM_M
    assert plan.depth <= L.MAX_ASPECT * plan.width
    # One step narrower would need a deeper room than the aspect rule allows.
    narrower = plan.width - L.ROOM_STEP_M
    deepest = L.ROOM_STEP_M * (L.MAX_ASPECT * narrower // L.ROOM_STEP_M)
    with pytest.raises(InvalidOption):
        L.plan(feet(24, seed=1), narrower, deepest)


def test_given_sizes_are_kept_and_spare_space_widens_aisles():
    f = feet(6, seed=2)
    tight = L.plan(f)
    roomy = L.plan(f, tight.width + 4, tight.depth + 6)
    assert (roomy.width, roomy.depth) == (tight.width + 4, tight.depth + 6)
    deeper = L.plan(f, tight.width, tight.depth + 6)  # the same rows, wider aisles
    pairs = list(itertools.combinations(range(len(f)), 2))
    assert all(gap(deeper.stands[i].rect, deeper.stands[k].rect)
               >= gap(tight.stands[i].rect, tight.stands[k].rect) - 1e-9 for i, k in pairs)
    assert max(s.rect[3] for s in deeper.stands) < deeper.depth / 2 - L.AISLE_M - 1
    only_w = L.plan(f, width=tight.width + 2)
    assert only_w.width == tight.width + 2 and only_w.depth <= tight.depth
    only_d = L.plan(f, depth=tight.depth + 3)
    assert only_d.depth == tight.depth + 3 and only_d.width <= tight.width


def test_a_room_too_small_says_the_minimum():
    f = feet(24, seed=1)
    fit = L.plan(f)
    with pytest.raises(InvalidOption) as err:
        L.plan(f, 5.0, 30.0)
    assert err.value.field == "options.room_width_m"
    assert "at least" in str(err.value) and "m wide" in str(err.value)
    with pytest.raises(InvalidOption) as err:
        L.plan(f, fit.width, 6.0)
    assert err.value.field == "options.room_depth_m"
    need = float(str(err.value).split("at least ")[1].split(" m")[0])
    assert L.plan(f, fit.width, need).depth == need  # the minimum it names does fit
    with pytest.raises(InvalidOption, match="at least"):
        L.plan(f, fit.width, need - L.ROOM_STEP_M)
    shallow = L.plan(f, depth=6.0)  # only the depth given: the hall grows wider instead
    assert shallow.depth == 6.0 and shallow.width > fit.width


def test_same_input_same_plan():
    assert L.plan(feet(9, seed=4)) == L.plan(feet(9, seed=4))
