"""Parametric prop families: a seed picks a structure and its proportions, as an SDF.

Conventions: metres, +Y up, front faces +Z, the prop stands on y = 0 and is centred on the Y
axis. `build(category, seed)` is deterministic: the same pair gives the same shape on every
machine (NumPy's PCG64 stream from ``default_rng([seed, category index])``).

Each family draws discrete structure (leg style, back style, capital order, shade kind, ...)
as well as continuous proportions, so a category spans visibly different objects, not one
object at different scales. `params` records every draw (JSON-safe) for the asset metadata.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from generators.procedural import sdf as S

CATEGORIES: tuple[str, ...] = ("chair", "table", "vase", "column", "bench", "lamp")

# Typical height of each category in metres (the real-world size props are built at).
REAL_SIZE_M = {
    "chair": 0.9, "table": 0.75, "vase": 0.4, "column": 2.5, "bench": 0.8, "lamp": 1.0,
}


class _Draw:
    """Seeded draws that record themselves in `params`."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        self.params: dict[str, Any] = {}

    def u(self, name: str, lo: float, hi: float) -> float:
        v = float(self.rng.uniform(lo, hi))
        self.params[name] = round(v, 4)
        return v

    def i(self, name: str, lo: int, hi: int) -> int:  # inclusive
        v = int(self.rng.integers(lo, hi + 1))
        self.params[name] = v
        return v

    def pick(self, name: str, choices, p=None) -> str:
        v = str(choices[int(self.rng.choice(len(choices), p=p))])
        self.params[name] = v
        return v

    def flag(self, name: str, p: float) -> bool:
        v = bool(self.rng.random() < p)
        self.params[name] = v
        return v


def _u(a, b) -> float:
    return (a + b) * 0.5


def _smooth_profile(ctrl_y, ctrl_r, n: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Cosine-eased interpolation through control points: smooth, no overshoot."""
    ys = np.linspace(ctrl_y[0], ctrl_y[-1], n)
    rs = np.empty_like(ys)
    for j, y in enumerate(ys):
        k = min(int(np.searchsorted(ctrl_y, y, side="right")) - 1, len(ctrl_y) - 2)
        t = (y - ctrl_y[k]) / (ctrl_y[k + 1] - ctrl_y[k])
        t = 0.5 - 0.5 * math.cos(math.pi * t)
        rs[j] = ctrl_r[k] * (1 - t) + ctrl_r[k + 1] * t
    return ys, rs


# ----------------------------------------------------------------------------- chair


@dataclass(frozen=True)
class _Recline:
    """A reclined back's centre plane: it rises back_h above seat_h from z = bz to z = top_z."""

    seat_h: float
    back_h: float
    bz: float
    top_z: float

    @classmethod
    def tilted(cls, seat_h: float, back_h: float, bz: float, recline: float) -> _Recline:
        return cls(seat_h, back_h, bz, bz - back_h * math.tan(recline))

    def at(self, frac: float) -> tuple[float, float]:
        """(y, z) of the plane `frac` of the way up the back."""
        return self.seat_h + frac * self.back_h, self.bz + (self.top_z - self.bz) * frac


def _chair(d: _Draw) -> S.SDF:
    seat_h = d.u("seat_height", 0.42, 0.48)
    w = d.u("seat_width", 0.42, 0.56)
    dep = d.u("seat_depth", 0.40, 0.50)
    t = d.u("seat_thickness", 0.03, 0.06)
    seat_shape = d.pick("seat_shape", ["square", "square", "round"])
    legs_style = d.pick("legs", ["square", "tapered", "splayed", "sled"])
    back_style = d.pick("back", ["slats", "rails", "panel", "spindles"])
    back_h = d.u("back_height", 0.32, 0.52)
    recline = d.u("recline_deg", 2.0, 14.0) * math.pi / 180
    inset = d.u("leg_inset", 0.02, 0.05)
    lw = d.u("leg_half_width", 0.016, 0.028)
    under = seat_h - t
    if seat_shape == "round":
        rad = _u(w, dep) / 2
        seat: S.SDF = S.Prism("circle", (0, seat_h - t / 2, 0), rad, rad, t / 2, edge=0.01)
        x0 = z0 = (rad - inset - lw) / math.sqrt(2)
    else:
        seat = S.Box((0, seat_h - t / 2, 0), (w / 2, t / 2, dep / 2), round=0.01)
        x0, z0 = w / 2 - inset - lw, dep / 2 - inset - lw
    parts = [seat, *_chair_legs(d, legs_style, x0, z0, under, lw)]
    # Back: two posts rising from the back edge, reclined, filled by the chosen style.
    back = _Recline.tilted(seat_h, back_h, -z0 if seat_shape == "square" else -x0 * 1.2,
                           recline)
    parts += _chair_back(d, back_style, back, x0, under, lw)
    if d.flag("arms", 0.3):
        parts += _chair_arms(d, back, x0, z0 if seat_shape == "square" else x0)
    return S.Union(parts)


def _chair_legs(d: _Draw, style: str, x0: float, z0: float, under: float,
                lw: float) -> list[S.SDF]:
    """Four legs (or two sled runners) under the seat's corners (+-x0, +-z0), and stretchers."""
    corners = [(sx * x0, sz * z0) for sz in (1, -1) for sx in (-1, 1)]  # front L/R, back L/R
    parts: list[S.SDF] = []
    if style == "square":
        for x, z in corners:
            parts.append(S.Box((x, under / 2, z), (lw, under / 2, lw), round=0.003))
    elif style == "tapered":
        for x, z in corners:
            parts.append(S.Cone((x, 0, z), (x, under + 0.005, z), lw * 0.6, lw * 1.1))
    elif style == "splayed":
        splay = d.u("splay", 0.03, 0.08)
        for x, z in corners:
            fx = x + math.copysign(splay, x)
            fz = z + math.copysign(splay, z)
            parts.append(S.Cone((fx, 0, fz), (x, under + 0.005, z), lw * 0.7, lw * 1.05))
    else:  # sled: two floor runners along z, uprights at both ends
        r = lw * 0.8
        for sx in (-1, 1):
            x = sx * x0
            parts.append(S.capsule_chain(
                [(x, under, z0), (x, r, z0 + 0.02), (x, r, -z0 - 0.02), (x, under, -z0)], r))
    if style in ("square", "tapered") and d.flag("stretchers", 0.6):
        sh = d.u("stretcher_height", 0.10, 0.22)
        sr = lw * 0.5
        for sx in (-1, 1):
            parts.append(S.Capsule((sx * x0, sh, -z0), (sx * x0, sh, z0), sr))
        if d.pick("stretcher_layout", ["H", "box"]) == "H":
            parts.append(S.Capsule((-x0, sh, 0), (x0, sh, 0), sr))
        else:
            for sz in (-1, 1):
                parts.append(S.Capsule((-x0, sh, sz * z0), (x0, sh, sz * z0), sr))
    return parts


def _chair_back(d: _Draw, style: str, back: _Recline, bx: float, under: float,
                lw: float) -> list[S.SDF]:
    """The back's posts at x = +-bx (from the seat's underside), its top rail and its filling."""
    pr = lw * 0.85
    top_y = back.seat_h + back.back_h
    parts: list[S.SDF] = [
        S.box_between((sx * bx, under, back.bz), (sx * bx, top_y, back.top_z), pr, pr,
                      round=0.004)
        for sx in (-1, 1)
    ]
    y_top, z_top = back.at(0.95)
    parts.append(S.box_between((-bx, y_top, z_top), (bx, y_top, z_top), 0.03, 0.012,
                               round=0.004))
    if style == "slats":
        n = d.i("back_slats", 2, 5)
        y_lo, z_lo = back.at(0.3)
        parts.append(S.box_between((-bx, y_lo, z_lo), (bx, y_lo, z_lo), 0.02, 0.011))
        for k in range(n):
            x = -bx + (k + 1) * 2 * bx / (n + 1)
            parts.append(S.box_between((x, y_lo, z_lo), (x, y_top, z_top), 0.008, 0.022))
    elif style == "rails":
        n = d.i("back_rails", 2, 4)
        for k in range(n):
            yy, zz = back.at(0.25 + 0.6 * k / max(n, 1))
            parts.append(S.box_between((-bx, yy, zz), (bx, yy, zz), 0.025, 0.01, round=0.003))
    elif style == "panel":
        y_lo, z_lo = back.at(0.25)
        parts.append(S.box_between((0, y_lo, z_lo), (0, y_top, z_top), bx, 0.012, round=0.006,
                                   up=(1.0, 0.0, 0.0)))
    else:  # spindles
        n = d.i("back_spindles", 3, 7)
        y_lo, z_lo = back.at(0.0)
        for k in range(n):
            x = -bx + (k + 1) * 2 * bx / (n + 1)
            parts.append(S.Capsule((x, y_lo, z_lo), (x, y_top, z_top), 0.008))
    return parts


def _chair_arms(d: _Draw, back: _Recline, bx: float, front_z: float) -> list[S.SDF]:
    """Two arm rests from the back posts (x = +-bx) to a support at the seat's front edge."""
    ah = d.u("arm_height", 0.18, 0.25)
    ay = back.seat_h + ah
    ax = bx + 0.01
    _, zb = back.at(ah / back.back_h)
    parts: list[S.SDF] = []
    for sx in (-1, 1):
        parts.append(S.box_between((sx * ax, ay, zb), (sx * ax, ay, front_z + 0.02), 0.03,
                                   0.012, round=0.006, up=(0.0, 0.0, 1.0)))
        parts.append(S.Capsule((sx * ax, back.seat_h - 0.01, front_z - 0.01),
                               (sx * ax, ay, front_z - 0.01), 0.013))
    return parts


# ----------------------------------------------------------------------------- table


def _turned_leg(x: float, z: float, h: float, r: float, beads: int) -> S.SDF:
    ctrl_y = [0.0, 0.08 * h]
    ctrl_r = [r * 0.55, r * 0.75]
    for k in range(beads):
        y = h * (0.2 + 0.55 * (k + 0.5) / max(beads, 1))
        ctrl_y += [y - 0.02, y, y + 0.02]
        ctrl_r += [r * 0.7, r * 1.05, r * 0.7]
    ctrl_y += [0.82 * h, 0.84 * h, h]
    ctrl_r += [r * 0.85, r, r]
    ys, rs = _smooth_profile(np.array(ctrl_y), np.array(ctrl_r), 48)
    return S.Lathe(ys, rs, center=(x, z))


def _table(d: _Draw) -> S.SDF:
    h = d.u("height", 0.70, 0.78)
    top = d.pick("top", ["rect", "round", "oval", "stadium"])
    tt = d.u("top_thickness", 0.025, 0.05)
    if top == "round":
        L = W = 2 * d.u("radius", 0.40, 0.60)
    else:
        L = d.u("length", 0.9, 1.8)
        W = d.u("width", 0.6, min(1.0, L * 0.8))
    top_y = h - tt / 2
    kind = {"rect": "rect", "round": "circle", "oval": "ellipse", "stadium": "stadium"}[top]
    parts: list[S.SDF] = [S.Prism(kind, (0, top_y, 0), L / 2, W / 2, tt / 2, corner=0.02,
                                  edge=min(0.012, tt / 3))]
    under = h - tt
    bases = {"rect": ["four_legs", "trestle"], "round": ["four_legs", "pedestal"],
             "oval": ["four_legs", "pedestal", "trestle"], "stadium": ["four_legs", "trestle"]}
    base = d.pick("base", bases[top])
    if base == "four_legs":
        parts += _table_four_legs(d, top, L, W, under)
    elif base == "pedestal":
        parts += _table_pedestal(d, L, W, under)
    else:
        parts += _table_trestle(d, L, W, under)
    return S.Union(parts)


def _table_four_legs(d: _Draw, top: str, L: float, W: float, under: float) -> list[S.SDF]:
    """Four legs inside the top's outline, with an optional apron and a low shelf."""
    style = d.pick("legs", ["square", "tapered", "turned"])
    r = d.u("leg_half_width", 0.02, 0.035)
    shrink = 0.72 if top in ("round", "oval") else 1.0
    lx = (L / 2 - d.u("leg_inset", 0.04, 0.10)) * shrink - r
    lz = (W / 2 - 0.05) * shrink - r
    if top in ("round", "oval"):
        lx, lz = lx / math.sqrt(2) * 1.2, lz / math.sqrt(2) * 1.2
    elif top == "stadium":  # keep the legs under the rounded ends
        lx = min(lx, L / 2 - W / 2 + math.sqrt(max((W / 2 - 0.03) ** 2 - lz ** 2, 0.0)) - r)
    parts: list[S.SDF] = []
    for sx in (-1, 1):
        for sz in (-1, 1):
            x, z = sx * lx, sz * lz
            if style == "square":
                parts.append(S.Box((x, under / 2, z), (r, under / 2, r), round=0.004))
            elif style == "tapered":
                parts.append(S.Cone((x, 0, z), (x, under + 0.004, z), r * 0.55, r))
            else:
                parts.append(_turned_leg(x, z, under + 0.004, r * 1.2, d.i("beads", 1, 3)))
    if d.flag("apron", 0.6):
        ah = d.u("apron_height", 0.06, 0.12)
        y = under - ah / 2 + 0.004  # reaches into the top
        parts.append(S.Box((0, y, lz), (lx, ah / 2, 0.01)))
        parts.append(S.Box((0, y, -lz), (lx, ah / 2, 0.01)))
        parts.append(S.Box((lx, y, 0), (0.01, ah / 2, lz)))
        parts.append(S.Box((-lx, y, 0), (0.01, ah / 2, lz)))
    if style != "turned" and d.flag("shelf", 0.2):
        parts.append(S.Box((0, d.u("shelf_height", 0.12, 0.25), 0), (lx, 0.01, lz),
                           round=0.004))
    return parts


def _table_pedestal(d: _Draw, L: float, W: float, under: float) -> list[S.SDF]:
    """A turned central column on a disc, cross or tripod foot."""
    r = d.u("column_radius", 0.045, 0.09)
    ctrl_y = np.array([0.0, 0.15, 0.5, 0.85, 1.0]) * under
    ctrl_r = np.array([1.6, 1.0, d.u("column_belly", 0.8, 1.5), 1.0, 1.4]) * r
    ys, rs = _smooth_profile(ctrl_y, ctrl_r, 48)
    parts: list[S.SDF] = [S.Lathe(ys, rs + 0.0, center=(0, 0))]
    foot = d.pick("foot", ["disc", "cross", "tripod"])
    reach = min(L, W) * d.u("foot_reach", 0.28, 0.42)
    if foot == "disc":
        parts.append(S.Cone((0, 0, 0), (0, 0.05, 0), reach, reach * 0.8, round=0.01))
    else:
        n = 4 if foot == "cross" else 3
        for k in range(n):
            a = 2 * math.pi * k / n + math.pi / n
            p = (reach * math.sin(a), 0.025, reach * math.cos(a))
            parts.append(S.box_between((0, 0.12, 0), p, 0.025, 0.02, round=0.008))
            parts.append(S.Sphere((p[0], 0.025, p[2]), 0.025))
    parts.append(S.Cone((0, under - 0.03, 0), (0, under + 0.003, 0), r * 1.4, r * 2.2))
    return parts


def _table_trestle(d: _Draw, L: float, W: float, under: float) -> list[S.SDF]:
    """Two end frames (foot, one or two posts, top bearer) joined by a long stretcher."""
    ex = L / 2 - d.u("end_inset", 0.10, 0.20)
    fz = W / 2 - 0.05
    pw = d.u("post_half_width", 0.03, 0.06)
    parts: list[S.SDF] = []
    for sx in (-1, 1):
        x = sx * ex
        parts.append(S.Box((x, 0.03, 0), (0.035, 0.03, fz), round=0.01))  # foot
        parts.append(S.Box((x, under - 0.025, 0), (0.03, 0.025, fz * 0.9), round=0.008))
        if d.params.setdefault("trestle_posts", int(d.rng.integers(1, 3))) == 1:
            parts.append(S.Box((x, under / 2, 0), (0.03, under / 2, pw * 2)))
        else:
            for sz in (-1, 1):
                parts.append(S.Box((x, under / 2, sz * fz * 0.5), (0.03, under / 2, pw)))
    sh = d.u("stretcher_height", 0.15, 0.35)
    parts.append(S.Box((0, sh, 0), (ex, 0.03, 0.025), round=0.008))
    if d.params["trestle_posts"] == 2:  # brace the post pair so the stretcher meets it
        for sx in (-1, 1):
            parts.append(S.Box((sx * ex, sh, 0), (0.03, 0.03, fz * 0.5 + pw), round=0.008))
    return parts


# ----------------------------------------------------------------------------- vase


def _vase(d: _Draw) -> S.SDF:
    H = d.u("height", 0.25, 0.6)
    R = H * d.u("belly_ratio", 0.16, 0.36)
    y_b = d.u("belly_at", 0.25, 0.6)
    y_n = d.u("neck_at", max(y_b + 0.15, 0.7), 0.92)
    ctrl_y = np.array([0.0, 0.03, y_b, y_n, 1.0]) * H
    ctrl_r = np.array([
        R * d.u("foot_ratio", 0.35, 0.7),
        R * d.u("foot_top_ratio", 0.35, 0.75),
        R,
        R * d.u("neck_ratio", 0.22, 0.6),
        R * d.u("lip_ratio", 0.3, 0.85),
    ])
    ys, rs = _smooth_profile(ctrl_y, ctrl_r, 64)
    wall = max(0.006, R * 0.07)
    flutes = d.i("flutes", 8, 16) if d.flag("fluted", 0.25) else 0
    outer = S.Lathe(ys, rs, flutes=flutes, flute_depth=0.08 if flutes else 0.0,
                    flute_y=(0.1 * H, y_n * H) if flutes else None)
    base_t = max(0.012, 0.05 * H)
    cav_mask = ys > base_t
    cys = np.concatenate([[base_t], ys[cav_mask], [H + 0.05]])
    inner_r = np.maximum(rs - wall * (1.6 if flutes else 1.0), 0.004)
    crs = np.concatenate([[inner_r[cav_mask][0] * 0.8], inner_r[cav_mask], [inner_r[-1]]])
    body: S.SDF = S.Subtract(outer, S.Lathe(cys, crs))
    parts: list[S.SDF] = [body]
    if d.flag("lip_ring", 0.5):
        parts.append(S.Torus((0, H - wall * 0.6, 0), rs[-1] - wall * 0.3, wall * 0.9))
    if d.flag("foot_ring", 0.4):
        parts.append(S.Torus((0, wall * 1.2, 0), rs[0], wall * 1.3))
    n_handles = int(d.pick("handles", ["0", "2", "2", "0", "1"]))
    if n_handles:
        hr = max(0.006, 0.02 * H)
        y_top = y_n * H + 0.05 * H
        y_bot = (y_b + 0.6 * (y_n - y_b)) * H
        r_top = float(np.interp(y_top, ys, rs))
        r_bot = float(np.interp(y_bot, ys, rs))
        reach = R * d.u("handle_reach", 0.25, 0.5) + max(r_top, r_bot)
        for sx in ([1, -1] if n_handles == 2 else [1]):
            pts = S.bezier((sx * (r_top - hr), y_top, 0),
                           (sx * reach * 1.3, _u(y_top, y_bot) + 0.1 * H, 0),
                           (sx * (r_bot - hr), y_bot, 0), 9)
            parts.append(S.capsule_chain(pts, hr))
    return S.Union(parts) if len(parts) > 1 else body


# ----------------------------------------------------------------------------- column


def _column(d: _Draw) -> S.SDF:
    H = d.u("height", 1.8, 3.2)
    r = H * d.u("radius_ratio", 0.05, 0.075)
    parts: list[S.SDF] = []
    y = 0.0
    if d.flag("pedestal", 0.3):
        ph = H * d.u("pedestal_ratio", 0.12, 0.2)
        parts.append(S.Box((0, ph / 2, 0), (r * 1.7, ph / 2, r * 1.7), round=0.01))
        parts.append(S.Box((0, ph + 0.015, 0), (r * 1.85, 0.02, r * 1.85), round=0.008))
        y = ph + 0.03
    plinth = d.u("plinth_height", 0.05, 0.12)
    parts.append(S.Box((0, y + plinth / 2 - 0.005, 0), (r * 1.5, plinth / 2, r * 1.5),
                       round=0.006))
    y += plinth
    # The shaft starts inside the plinth, under the base rings: a shaft that started above
    # them left a sealed cavity (ring wall, plinth floor, shaft ceiling) -- a second, inner
    # surface piece in every column with rings thicker than ~1 cm.
    shaft_y0 = y - 0.01
    base_rings = d.i("base_rings", 1, 2)
    for k in range(base_rings):
        tr = r * (0.18 - 0.05 * k)
        # The ring's inner edge lies inside the shaft and its bottom inside what it sits on.
        parts.append(S.Torus((0, y + tr * 0.6, 0), r * (1.12 - 0.06 * k), tr))
        y += tr * 1.5
    capital = d.pick("capital", ["doric", "tuscan", "ionic", "corinthian"])
    cap_h = {"doric": 0.09, "tuscan": 0.08, "ionic": 0.11, "corinthian": 0.16}[capital] * H
    shaft_top = H - cap_h
    shaft_h = shaft_top - y
    entasis = d.u("entasis", 0.08, 0.2)
    ts = np.linspace(0.0, 1.0, 24)
    rs = r * (1.0 - entasis * ts ** 1.5 + 0.04 * np.sin(math.pi * ts))
    fluted = d.flag("fluted", 0.55)
    parts.append(S.Lathe(shaft_y0 + ts * (shaft_top - shaft_y0), rs,
                         flutes=d.i("flute_count", 12, 24) if fluted else 0,
                         flute_depth=0.06 if fluted else 0.0,
                         flute_y=(y + 0.04 * shaft_h, shaft_top - 0.03 * shaft_h)))
    rt = float(rs[-1])
    ab = d.u("abacus_ratio", 1.35, 1.6) * r
    ab_h = cap_h * 0.28
    parts.append(S.Torus((0, shaft_top, 0), rt * 1.02, rt * 0.1))  # astragal
    if capital in ("doric", "tuscan"):
        parts.append(S.Cone((0, shaft_top, 0), (0, H - ab_h, 0), rt * 1.02, ab * 0.95))
        if capital == "tuscan":
            parts.append(S.Torus((0, shaft_top + cap_h * 0.25, 0), rt * 1.08, rt * 0.09))
    elif capital == "ionic":
        parts.append(S.Cone((0, shaft_top, 0), (0, H - ab_h, 0), rt * 1.02, rt * 1.15))
        vr = cap_h * 0.33
        for sx in (-1, 1):
            parts.append(S.Torus((sx * (ab - vr * 0.9), H - ab_h - vr * 0.7, 0), vr * 0.65,
                                 vr * 0.3, axis="z"))
            parts.append(S.Capsule((sx * (ab - vr * 0.9), H - ab_h - vr * 0.7, -ab * 0.7),
                                   (sx * (ab - vr * 0.9), H - ab_h - vr * 0.7, ab * 0.7),
                                   vr * 0.25))
    else:  # corinthian: a flaring bell ringed with leaves
        bell_y = np.linspace(shaft_top, H - ab_h, 16)
        bell_r = rt * (1.0 + 0.35 * np.linspace(0, 1, 16) ** 2)
        parts.append(S.Lathe(bell_y, bell_r))
        n = d.i("leaves", 8, 12)
        for row, (fy, scale) in enumerate(((0.3, 1.02), (0.65, 1.12))):
            for k in range(n):
                a = 2 * math.pi * (k + 0.5 * row) / n
                yy = shaft_top + fy * (cap_h - ab_h)
                rr = rt * scale
                parts.append(S.Sphere((rr * math.sin(a), yy, rr * math.cos(a)), rt * 0.16))
    parts.append(S.Box((0, H - ab_h / 2, 0), (ab, ab_h / 2, ab), round=0.005))
    return S.Union(parts)


# ----------------------------------------------------------------------------- bench


def _bench(d: _Draw) -> S.SDF:
    L = d.u("length", 1.2, 2.0)
    D = d.u("depth", 0.35, 0.5)
    seat_h = d.u("seat_height", 0.42, 0.47)
    t = d.u("seat_thickness", 0.035, 0.07)
    parts: list[S.SDF] = []
    if d.pick("seat", ["slats", "slab"]) == "slats":
        n = d.i("seat_slats", 3, 6)
        gap = 0.012
        sw = (D - gap * (n - 1)) / n
        for k in range(n):
            z = -D / 2 + sw / 2 + k * (sw + gap)
            parts.append(S.Box((0, seat_h - t / 2, z), (L / 2, t / 2, sw / 2), round=0.006))
    else:
        parts.append(S.Box((0, seat_h - t / 2, 0), (L / 2, t / 2, D / 2), round=0.012))
    under = seat_h - t + 0.005  # legs reach into the seat so they join it, not just touch
    legs = d.pick("legs", ["panel", "frame", "a_frame", "four_legs"])
    ex = L / 2 - d.u("leg_inset", 0.06, 0.18)
    xs = [-ex, ex] + ([0.0] if L > 1.6 and legs != "panel" else [])
    for x in xs:
        parts += _bench_legs(d, legs, x, D, under)
    if d.params["seat"] == "slats":  # cross rails under the slats, on every leg pair
        for x in xs:
            parts.append(S.Box((x, under - 0.02, 0), (0.03, 0.025, D / 2 - 0.01), round=0.005))
    if legs in ("a_frame", "four_legs") and d.flag("long_stretcher", 0.5):
        # At the height of the legs' cross bars (_bench_legs), which it joins: at under * 0.4
        # it hovered 1-2 cm above a four-legged bench's bars at 0.12 m.
        sy = under * 0.4 if legs == "a_frame" else 0.12
        parts.append(S.Box((0, sy, 0), (ex, 0.02, 0.02), round=0.005))
    if d.flag("back", 0.5):
        parts += _bench_back(d, xs, ex, D, seat_h, under)
    return S.Union(parts)


def _bench_legs(d: _Draw, style: str, x: float, D: float, under: float) -> list[S.SDF]:
    """One leg pair (a frame across the depth D) at x."""
    if style == "panel":
        pt = d.params.setdefault("panel_half_thickness",
                                 round(float(d.rng.uniform(0.02, 0.04)), 4))
        return [S.Box((x, under / 2, 0), (pt, under / 2, D / 2 - 0.02), round=0.006)]
    if style == "frame":
        r = 0.014
        z = D / 2 - 0.04
        return [S.capsule_chain([(x, under, z), (x, r, z), (x, r, -z), (x, under, -z)], r),
                S.Capsule((x, under - r, z), (x, under - r, -z), r)]
    if style == "a_frame":
        z = D / 2 - 0.05
        parts: list[S.SDF] = [
            S.box_between((x, 0, sz * (z + 0.04)), (x, under + 0.003, sz * z * 0.4), 0.025, 0.02,
                          round=0.006)
            for sz in (-1, 1)
        ]
        return parts + [S.Box((x, under * 0.4, 0), (0.02, 0.02, z), round=0.005)]
    z = D / 2 - 0.04  # four_legs
    parts = [S.Box((x, under / 2, sz * z), (0.025, under / 2, 0.025), round=0.004)
             for sz in (-1, 1)]
    return parts + [S.Box((x, 0.12, 0), (0.015, 0.015, z), round=0.004)]


def _bench_back(d: _Draw, xs: list[float], ex: float, D: float, seat_h: float,
                under: float) -> list[S.SDF]:
    """A reclined slatted back on posts at every leg pair (xs), optionally with arms."""
    back_h = d.u("back_height", 0.3, 0.45)
    recline = d.u("recline_deg", 8, 18) * math.pi / 180
    back = _Recline.tilted(seat_h, back_h, -D / 2 + 0.03, recline)
    parts: list[S.SDF] = [
        S.box_between((x, under, back.bz), (x, seat_h + back_h, back.top_z), 0.025, 0.02,
                      round=0.006)
        for x in xs
    ]
    n = d.i("back_slats", 2, 4)
    for k in range(n):
        y, z = back.at(0.25 + 0.7 * k / max(n - 1, 1))
        parts.append(S.box_between((-ex - 0.05, y, z), (ex + 0.05, y, z), 0.035, 0.014,
                                   round=0.005))
    if d.flag("arms", 0.5):
        ay = seat_h + 0.2
        for sx in (-1, 1):
            x = sx * ex
            _, zb = back.at(0.2 / back_h)
            parts.append(S.box_between((x, ay, zb), (x, ay, D / 2 + 0.02), 0.03, 0.015,
                                       round=0.006, up=(0.0, 0.0, 1.0)))
            parts.append(S.Capsule((x, seat_h - 0.01, D / 2 - 0.02), (x, ay, D / 2 - 0.02),
                                   0.016))
    return parts


# ----------------------------------------------------------------------------- lamp


def _shade(d: _Draw, y0: float, size: float, lamp_h: float) -> tuple[S.SDF, float]:
    """A shade hanging from y0 + its height; returns (shade, its top y)."""
    kind = d.pick("shade", ["drum", "cone", "dome", "globe"])
    r = size * d.u("shade_ratio", 0.55, 0.8)
    h = size * d.u("shade_height_ratio", 0.5, 0.8)
    # At least ~1.4 voxels at the default resolution (96 along the lamp's height), so the
    # shade meshes as one solid wall rather than shards.
    wall = max(0.012, lamp_h * 0.015)
    if kind == "globe":
        return S.Sphere((0, y0 + r * 0.75, 0), r * 0.75), y0 + r * 1.5
    if kind == "drum":
        ys, rs = [y0, y0 + h], [r, r * 0.95]
    elif kind == "cone":
        ys, rs = [y0, y0 + h], [r, r * d.u("shade_top_ratio", 0.45, 0.7)]
    else:
        ang = np.linspace(0.0, math.pi / 2 * 0.92, 16)
        ys, rs = list(y0 + np.sin(ang) * h), list(r * np.cos(ang))
    shade = S.LatheShell(np.array(ys), np.array(rs), wall)
    # Spokes from the rim of the opening at the top to the socket in the middle.
    top_y, top_r = ys[-1], rs[-1]
    spokes = [S.Capsule((0, top_y - wall, 0), (top_r * math.sin(a), top_y - wall,
                                               top_r * math.cos(a)), wall * 0.6)
              for a in (0.0, 2.1, 4.2)]
    return S.Union([shade] + spokes), top_y


def _lamp(d: _Draw) -> S.SDF:
    kind = d.pick("type", ["table", "floor", "desk"])
    H = d.u("height", 0.4, 0.7) if kind != "floor" else d.u("height", 1.3, 1.8)
    bases = {"table": ["disc", "square", "urn"], "floor": ["disc", "square", "tripod"],
             "desk": ["disc", "square"]}
    base = d.pick("base", bases[kind])
    br = H * (0.16 if kind != "floor" else 0.12) * d.u("base_ratio", 0.8, 1.3)
    stem_r = max(0.008, H * 0.012)
    parts, base_top = _lamp_base(d, base, H, br, stem_r)
    shade_size = H * (0.35 if kind != "floor" else 0.24)
    if kind == "desk":
        return S.Union(parts + _desk_arm(d, H, br, base_top, stem_r, shade_size))
    stem = d.pick("stem", ["straight", "turned", "curved"] if kind == "floor"
                  else ["straight", "turned"])
    if stem == "curved":
        stem_parts, finial_at = _arc_stem(d, H, base_top, stem_r, shade_size)
    else:
        stem_parts, finial_at = _upright_stem(d, stem, H, base_top, stem_r, shade_size)
    parts += stem_parts
    if d.flag("finial", 0.5):  # sits on the top of the rod, touching it
        parts.append(S.Sphere(finial_at, 0.015))
    return S.Union(parts)


def _lamp_base(d: _Draw, base: str, H: float, br: float,
               stem_r: float) -> tuple[list[S.SDF], float]:
    """The base of radius about br; returns (its parts, the y the stem starts at)."""
    if base == "disc":
        return [S.Cone((0, 0, 0), (0, 0.035, 0), br, br * 0.85, round=0.01)], 0.035
    if base == "square":
        return [S.Box((0, 0.02, 0), (br * 0.85, 0.02, br * 0.85), round=0.008)], 0.04
    if base == "urn":
        uh = H * d.u("urn_ratio", 0.3, 0.5)
        ctrl_y = np.array([0, 0.05, 0.5, 0.9, 1.0]) * uh
        ctrl_r = np.array([0.6, 0.55, 1.0, 0.35, 0.3]) * br
        ys, rs = _smooth_profile(ctrl_y, ctrl_r, 40)
        return [S.Lathe(ys, rs)], uh
    legs: list[S.SDF] = []  # tripod
    for k in range(3):
        a = 2 * math.pi * k / 3
        legs.append(S.Capsule((br * 1.8 * math.sin(a), stem_r, br * 1.8 * math.cos(a)),
                              (0, H * 0.35, 0), stem_r * 1.2))
    return legs, H * 0.35


def _desk_arm(d: _Draw, H: float, br: float, base_top: float, stem_r: float,
              shade_size: float) -> list[S.SDF]:
    """Two-segment arm with joints; the shade is a cone pointing down-forward."""
    elbow = (0, H * d.u("elbow_ratio", 0.5, 0.7), -br * 0.5)
    head = (0, H * 0.85, br * d.u("reach_ratio", 0.8, 1.4))
    parts: list[S.SDF] = [S.Capsule((0, base_top, 0), elbow, stem_r),
                          S.Capsule(elbow, head, stem_r), S.Sphere(elbow, stem_r * 1.8)]
    hr = shade_size * 0.45
    tip = (head[0], head[1] - hr * 1.2, head[2] + hr * 0.4)
    parts.append(S.Subtract(S.Cone(head, tip, hr * 0.25, hr),
                            S.Cone(head, (tip[0], tip[1] - 0.01, tip[2]), hr * 0.15,
                                   hr * 0.88)))
    parts.append(S.Sphere(head, stem_r * 1.8))
    return parts


def _upright_stem(d: _Draw, stem: str, H: float, base_top: float, stem_r: float,
                  shade_size: float) -> tuple[list[S.SDF], tuple[float, float, float]]:
    """A straight or turned stem with the shade on top; returns (parts, finial position)."""
    shade_y = H - shade_size * 0.8
    if stem == "straight":
        parts: list[S.SDF] = [S.Capsule((0, base_top, 0), (0, shade_y + shade_size * 0.3, 0),
                                        stem_r)]
    else:  # turned
        n = d.i("beads", 2, 4)
        ctrl_y, ctrl_r = [base_top - 0.005], [stem_r * 1.6]
        span = shade_y - base_top
        for k in range(n):
            y = base_top + span * (k + 0.5) / n
            ctrl_y += [y - span * 0.12 / n, y, y + span * 0.12 / n]
            ctrl_r += [stem_r, stem_r * 2.2, stem_r]
        ctrl_y.append(shade_y + shade_size * 0.3)
        ctrl_r.append(stem_r)
        ys, rs = _smooth_profile(np.array(ctrl_y), np.array(ctrl_r), 64)
        parts = [S.Lathe(ys, rs)]
    shade, top = _shade(d, shade_y, shade_size, H)
    parts.append(shade)
    # The rod through the shade to its spokes: at least 0.8 stem radii (~1 voxel at the
    # default resolution); at 0.6 it fell between the grid's nodes and the shade came loose.
    parts.append(S.Capsule((0, shade_y + shade_size * 0.3, 0), (0, top, 0), stem_r * 0.8))
    return parts, (0.0, top + 0.012, 0.0)


def _arc_stem(d: _Draw, H: float, base_top: float, stem_r: float,
              shade_size: float) -> tuple[list[S.SDF], tuple[float, float, float]]:
    """A curved arc: the shade hangs forward of the base; returns (parts, finial position)."""
    reach = H * d.u("arc_reach", 0.35, 0.55)
    top_y = H
    pts = S.bezier((0, base_top, 0), (0, top_y * 1.1, 0), (0, top_y, reach), 12)
    parts: list[S.SDF] = [S.capsule_chain(pts, stem_r)]
    hang = top_y - shade_size * 0.9
    parts.append(S.Capsule((0, top_y, reach), (0, hang + shade_size * 0.5, reach),
                           stem_r * 0.8))  # as thick as the upright stems' rod (see there)
    shade, _ = _shade(d, hang, shade_size, H)
    parts.append(S.Translate(shade, (0, 0, reach)))
    return parts, (0.0, top_y + 0.01, reach)


# ----------------------------------------------------------------------------- shape

_FAMILIES: dict[str, Callable[[_Draw], S.SDF]] = {
    "chair": _chair, "table": _table, "vase": _vase, "column": _column, "bench": _bench,
    "lamp": _lamp,
}


@dataclass
class Shape:
    """A built prop: its SDF, the draws that made it, and its bounds (standing on y = 0)."""

    category: str
    seed: int
    node: S.SDF
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def bounds_min(self) -> np.ndarray:
        return self.node.lo.copy()

    @property
    def bounds_max(self) -> np.ndarray:
        return self.node.hi.copy()

    def sdf(self, points: np.ndarray) -> np.ndarray:
        """Exact signed distance at points [N, 3] (metres) -> [N] float64."""
        return self.node.points(points)

    def _margin(self, spacing: float) -> float:
        return max(3.0 * spacing, 2.1 * self.node.kmax + spacing)

    def sdf_grid(self, res: int, pad_voxels: int = 2) -> tuple[np.ndarray, np.ndarray, float]:
        """SDF on a grid with `res` cells along the longest side (plus padding).

        Returns (grid float32 [nx, ny, nz], origin [3] of grid[0, 0, 0], spacing). Values further
        than a few voxels outside the surface are clamped, which marching cubes never sees."""
        if res < 4:
            raise ValueError(f"res must be >= 4, got {res}")
        lo, hi = self.bounds_min, self.bounds_max
        spacing = float((hi - lo).max()) / res
        axes = []
        for a, b in zip(lo, hi):
            n = math.ceil((b - a) / spacing) + 1 + 2 * pad_voxels
            start = (a + b) / 2 - (n - 1) * spacing / 2
            axes.append((start + spacing * np.arange(n)).astype(np.float32))
        grid = S.eval_grid(self.node, tuple(axes), self._margin(spacing))
        origin = np.array([ax[0] for ax in axes], dtype=np.float64)
        return grid, origin, spacing

    def occupancy(self, res: int, dilate_voxels: float = 0.0) -> np.ndarray:
        """Solid voxels [res, res, res] bool of the shape normalised into a cube.

        The longest side spans res - 2 voxels (one empty voxel all round); the shape stands on
        the second layer of y and is centred in x and z. Axis order (x, y, z). A voxel is solid
        when its centre is inside the shape grown by `dilate_voxels` voxels: about 0.5 keeps
        parts thinner than a voxel (lamp stems, chair legs, vase walls) connected at low res."""
        lo, hi = self.bounds_min, self.bounds_max
        ext = float((hi - lo).max())
        spacing = ext / (res - 2)
        cx, cz = (lo[0] + hi[0]) / 2, (lo[2] + hi[2]) / 2
        centred = (np.arange(res) - (res - 1) / 2) * spacing
        axes = (
            (cx + centred).astype(np.float32),
            (lo[1] + (np.arange(res) - 0.5) * spacing).astype(np.float32),
            (cz + centred).astype(np.float32),
        )
        return S.eval_grid(self.node, axes, self._margin(spacing)) < dilate_voxels * spacing


def build(category: str, seed: int) -> Shape:
    """The prop of `category` for `seed`, standing on y = 0 and centred on the Y axis."""
    if category not in _FAMILIES:
        raise ValueError(f"unknown category {category!r}; known: {', '.join(CATEGORIES)}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    d = _Draw(np.random.default_rng([int(seed), CATEGORIES.index(category)]))
    node = _FAMILIES[category](d)
    lo, hi = node.lo, node.hi
    node = S.Translate(node, (-(lo[0] + hi[0]) / 2, -lo[1], -(lo[2] + hi[2]) / 2))
    return Shape(category, int(seed), node, d.params)
