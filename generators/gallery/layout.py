"""The hall's layout rules: where each exhibit's stand goes, and how big the room must be.

A rule set, in the order a visitor meets it:

- Two doorways (entrance in the front wall at +Z, exit in the back wall at -Z), both centred,
  joined by a clear central walkway `WALKWAY_M` wide (the door plus `DOOR_CLEARANCE_M` each
  side), so nothing stands in a doorway or in the line of sight from one door to the other.
- Exhibits stand in rows on both sides of the walkway, every one facing the entrance (+Z).
  Rows are separated by aisles of at least `AISLE_M` (1.2 m: two people pass, a wheelchair
  turns), stands in a row by at least `AISLE_M` too, and the front row leaves an aisle before
  the entrance wall; the back row and the outermost stands keep `WALL_GAP_M` off the walls.
- Sight lines: exhibits are placed from the back in order of how high they reach on their
  plinths, so nothing hides a lower exhibit behind it; they alternate between the two sides so both halves look alike.
- A stand is a plinth sized to its exhibit's footprint (`PLINTH_MARGIN_M` round it) and a
  placard lectern in front of it (`PLACARD_ZONE_M` of floor). Small exhibits stand high (eye
  level), furniture low, tall ones (columns, floor lamps) on a base: `plinth_height`.
- Unset room sizes are chosen: the narrowest width (in `ROOM_STEP_M` steps) whose packed
  depth is at most `MAX_ASPECT` times it. A room too small is refused, naming the minimum.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from generators.core.errors import InvalidOption

DOOR_WIDTH_M = 1.6  # clear opening of each doorway
DOOR_HEIGHT_M = 2.6
DOOR_CLEARANCE_M = 0.6  # kept free on each side of a door, the whole depth of the hall
WALKWAY_M = DOOR_WIDTH_M + 2 * DOOR_CLEARANCE_M
AISLE_M = 1.2  # least clear floor between two stands, and in front of the front row
WALL_GAP_M = 0.3  # stands keep this far off a wall
WALL_THICKNESS_M = 0.2
PLINTH_MARGIN_M = 0.08  # plinth top overhang round the exhibit's footprint
MIN_PLINTH_M = 0.3  # narrowest plinth side
PLACARD_ZONE_M = 0.35  # floor in front of a plinth for its placard lectern
PLACARD_HEIGHT_M = 0.95  # top of the lectern
MIN_HEIGHT_M = 3.6  # lowest ceiling
HEADROOM_M = 1.0  # least space between the tallest exhibit and the ceiling
ROOM_STEP_M = 0.5  # chosen room sizes are multiples of this
MIN_ROOM_M = 6.0
MAX_ROOM_M = 100.0
MAX_ASPECT = 1.25  # a chosen hall is at most this much deeper than it is wide


@dataclass(frozen=True)
class Footprint:
    """An exhibit's axis-aligned bounds in its own frame (origin at its pivot), metres."""

    lo: tuple[float, float, float]
    hi: tuple[float, float, float]

    @property
    def height(self) -> float:
        return self.hi[1] - self.lo[1]


def plinth_height(f: Footprint) -> float:
    """Small exhibits (vases) at eye level, tall ones (columns, floor lamps) on a low base,
    furniture (chairs, tables, benches) on a low platform."""
    if f.height >= 1.4:
        return 0.1
    if max(f.hi[i] - f.lo[i] for i in range(3)) < 0.6:
        return 0.9
    return 0.3


@dataclass(frozen=True)
class Stand:
    index: int  # the exhibit's position in the request's draw order
    x: float  # plinth centre on the floor
    z: float
    plinth: tuple[float, float, float]  # width (x), height (y), depth (z)
    exhibit: tuple[float, float, float]  # where the exhibit's origin goes (on the plinth top)
    placard: tuple[float, float]  # the lectern's floor position (x, z)

    @property
    def rect(self) -> tuple[float, float, float, float]:
        """The floor the whole stand takes (x0, z0, x1, z1): plinth plus placard zone."""
        w, _, d = self.plinth
        return (self.x - w / 2, self.z - d / 2, self.x + w / 2, self.z + d / 2 + PLACARD_ZONE_M)


@dataclass(frozen=True)
class Plan:
    width: float  # inside floor, x from -width/2 to width/2
    depth: float  # z from -depth/2 (back wall, exit) to depth/2 (front wall, entrance)
    height: float  # floor to ceiling
    stands: tuple[Stand, ...]  # in draw order

    def doors(self) -> tuple[tuple[float, float, float], ...]:
        """(x0, x1, z of its wall) of each doorway: entrance (front), exit (back)."""
        h = DOOR_WIDTH_M / 2
        return ((-h, h, self.depth / 2), (-h, h, -self.depth / 2))


def _stand_size(f: Footprint) -> tuple[float, float]:
    """(width, depth) of the plinth under an exhibit."""
    w = max(f.hi[0] - f.lo[0] + 2 * PLINTH_MARGIN_M, MIN_PLINTH_M)
    d = max(f.hi[2] - f.lo[2] + 2 * PLINTH_MARGIN_M, MIN_PLINTH_M)
    return w, d


def top_height(f: Footprint) -> float:
    """How high the exhibit reaches, standing on its plinth."""
    return plinth_height(f) + f.height


def _order(feet: Sequence[Footprint]) -> list[int]:
    """Highest-reaching first (ties in draw order): the back rows take them."""
    return sorted(range(len(feet)), key=lambda i: (-round(top_height(feet[i]), 6), i))


def _rows(feet: Sequence[Footprint], width: float) -> list[list[list[int]]] | None:
    """Per half (right, left), the rows of exhibit indices, back row first; None when an
    exhibit is too wide for a half."""
    span = width / 2 - WALKWAY_M / 2 - WALL_GAP_M
    halves: list[list[list[int]]] = [[], []]
    used = [span + 1.0, span + 1.0]  # start each half with a new row
    for rank, i in enumerate(_order(feet)):
        w, _ = _stand_size(feet[i])
        if w > span:
            return None
        side = rank % 2
        need = w if not halves[side] or used[side] > span else w + AISLE_M
        if used[side] + need > span + 1e-9:
            halves[side].append([i])
            used[side] = w
        else:
            halves[side][-1].append(i)
            used[side] += need
    return halves


def _row_depth(feet: Sequence[Footprint], row: list[int]) -> float:
    return max(_stand_size(feet[i])[1] for i in row) + PLACARD_ZONE_M


def _depth_needed(feet: Sequence[Footprint], halves: list[list[list[int]]]) -> float:
    """Back gap, rows and aisles between them, and the aisle before the entrance wall."""
    need = 0.0
    for rows in halves:
        if rows:
            need = max(need, WALL_GAP_M + sum(_row_depth(feet, r) for r in rows)
                       + AISLE_M * len(rows))
    return need


def min_width(feet: Sequence[Footprint]) -> float:
    """The narrowest hall whose halves can hold the widest stand."""
    widest = max(_stand_size(f)[0] for f in feet)
    return WALKWAY_M + 2 * (widest + WALL_GAP_M)


def _ceil_step(x: float) -> float:
    return max(MIN_ROOM_M, math.ceil(x / ROOM_STEP_M - 1e-9) * ROOM_STEP_M)


def _fmt(x: float) -> str:
    return f"{x:g}"


def plan(feet: Sequence[Footprint], width: float | None = None,
         depth: float | None = None) -> Plan:
    """Lay out stands for these exhibits (in draw order) in a `width` x `depth` hall; an
    unset size is chosen to fit. InvalidOption (options.room_width_m / room_depth_m, saying
    the minimum) when they do not fit."""
    if not feet:
        raise ValueError("a gallery needs at least one exhibit")
    n = len(feet)
    w_min = min_width(feet)
    if width is not None and width < w_min - 1e-9:
        raise InvalidOption("options.room_width_m", f"got {_fmt(width)}; {n} exhibits of these "
                            f"sizes need a hall at least {_fmt(_ceil_step(w_min))} m wide "
                            f"(a {_fmt(WALKWAY_M)} m walkway between the doors, the widest "
                            "stand each side); allowed: 4 to 100, or unset to fit")
    if width is None:
        width = _ceil_step(w_min)
        while True:
            d_need = _depth_needed(feet, _rows(feet, width))
            fits = d_need <= depth + 1e-9 if depth is not None else \
                _ceil_step(d_need) <= MAX_ASPECT * width
            if fits or width + ROOM_STEP_M > MAX_ROOM_M:
                break
            width += ROOM_STEP_M
    halves = _rows(feet, width)
    d_need = _depth_needed(feet, halves)
    if depth is None:
        depth = _ceil_step(d_need)
    if d_need > depth + 1e-9:
        raise InvalidOption("options.room_depth_m", f"got {_fmt(depth)}; {n} exhibits in a "
                            f"{_fmt(width)} m wide hall need at least "
                            f"{_fmt(math.ceil(d_need / ROOM_STEP_M - 1e-9) * ROOM_STEP_M)} m "
                            f"deep ({_fmt(AISLE_M)} m aisles); allowed: 4 to 100, or a wider "
                            "room, or unset to fit")
    stands: dict[int, Stand] = {}
    span = width / 2 - WALKWAY_M / 2 - WALL_GAP_M
    for side, rows in enumerate(halves):
        sign = 1.0 if side == 0 else -1.0
        if not rows:
            continue
        # Spare depth widens every aisle alike (between rows and before the entrance wall).
        spare = (depth - _depth_needed(feet, [rows])) / len(rows)
        z = -depth / 2 + WALL_GAP_M
        for row in rows:
            sizes = [_stand_size(feet[i]) for i in row]
            # Spare width goes round the stands (space-around, aisles never under AISLE_M),
            # never into the walkway.
            free = span - sum(w for w, _ in sizes)
            gap = max(AISLE_M, free / len(row)) if len(row) > 1 else free
            x = WALKWAY_M / 2 + (free - gap * (len(row) - 1)) / 2
            for i, (w, d) in zip(row, sizes):
                cx = sign * (x + w / 2)
                cz = z + d / 2
                f = feet[i]
                top = plinth_height(f)
                # The exhibit's footprint centre sits on the plinth centre; its lowest point
                # on the plinth top.
                ex = cx - (f.lo[0] + f.hi[0]) / 2
                ez = cz - (f.lo[2] + f.hi[2]) / 2
                stands[i] = Stand(i, cx, cz, (w, top, d), (ex, top - f.lo[1], ez),
                                  (cx, cz + d / 2 + PLACARD_ZONE_M / 2))
                x += w + gap
            z += _row_depth(feet, row) + AISLE_M + spare
    tallest = max(top_height(f) for f in feet)
    height = max(MIN_HEIGHT_M, math.ceil((tallest + HEADROOM_M) / ROOM_STEP_M) * ROOM_STEP_M)
    return Plan(float(width), float(depth), float(height), tuple(stands[i] for i in range(n)))
