"""Procedural looping clips on the humanoid skeleton: idle, walk (in place), run, wave.

Each clip is a few analytic joint curves sampled at `FPS` over one period, so the first key
equals the last and the loop is seamless. Rotations are local quaternions (x, y, z, w) about
the rest pose's world-aligned axes (+X the character's left, +Y up, +Z forward): a negative
angle about X swings a leg or arm forward. The arms rest in MakeHuman's A-pose, so every clip
first lowers them to the sides by the angle this body's arms make with the vertical.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

CLIP_NAMES = ("idle", "walk", "run", "wave")  # the canonical order of the `clips` option
FPS = 30  # keys per second; LINEAR interpolation between them
DURATIONS_S = {"idle": 4.0, "walk": 1.1, "run": 0.7, "wave": 2.0}  # one loop each
ARM_AT_SIDE_DEG = 8.0  # arms hang this far out from the vertical when lowered
SOLE_M = 0.04  # vertices this close to the floor at rest are the ones that can touch it
GROUNDED = {"walk": 0.0, "run": 0.04}  # clips whose feet are kept on the floor: flight, metres


@dataclass
class Clip:
    """One looping animation: keys at `times`, per animated joint a rotation track and, for
    the pelvis, a translation track (local, i.e. rest offset + motion)."""

    name: str
    times: np.ndarray  # [K] float32 seconds, from 0 to the duration
    rotations: dict[int, np.ndarray]  # joint -> [K, 4] float32 unit quaternions (x, y, z, w)
    translations: dict[int, np.ndarray]  # joint -> [K, 3] float32 local translations

    @property
    def duration(self) -> float:
        return float(self.times[-1])

    def pose(self, t: float, n_joints: int) -> tuple[np.ndarray, dict[int, np.ndarray]]:
        """([J, 4] local rotations, {joint: translation}) at time t (wrapped), blended linearly
        between keys (normalised lerp, close to slerp at 30 keys per second)."""
        t = float(t) % self.duration if self.duration > 0 else 0.0
        k = int(np.clip(np.searchsorted(self.times, t, side="right") - 1, 0, len(self.times) - 2))
        a = (t - self.times[k]) / max(self.times[k + 1] - self.times[k], 1e-9)
        rot = np.tile(np.asarray([0, 0, 0, 1], np.float64), (n_joints, 1))
        for j, q in self.rotations.items():
            r = (1 - a) * q[k] + a * q[k + 1]
            rot[j] = r / np.linalg.norm(r)
        trans = {j: (1 - a) * v[k] + a * v[k + 1] for j, v in self.translations.items()}
        return rot, trans


def _arm_drop_deg(positions: np.ndarray, names: list[str], side: str) -> float:
    """Degrees about Z that bring this body's upper arm from its rest angle to hang
    ARM_AT_SIDE_DEG from the vertical (negative for the left arm)."""
    s = positions[names.index(f"lowerarm_{side}")] - positions[names.index(f"upperarm_{side}")]
    out = np.degrees(np.arctan2(abs(s[0]), -s[1]))  # 0 = straight down
    drop = max(out - ARM_AT_SIDE_DEG, 0.0)
    return -drop if side == "l" else drop


class _Track:
    """Builds one clip: named joints' Euler curves (degrees, applied X after Z after Y)."""

    def __init__(self, name: str, names: list[str], positions: np.ndarray,
                 parents: np.ndarray) -> None:
        self.name, self.names, self.positions, self.parents = name, names, positions, parents
        n = round(DURATIONS_S[name] * FPS)
        self.times = np.arange(n + 1, dtype=np.float64) / FPS
        self.phase = 2 * np.pi * self.times / self.times[-1]  # one period over the clip
        self.euler: dict[int, np.ndarray] = {}
        self.offsets: dict[int, np.ndarray] = {}
        self.frames: dict[int, float] = {}  # joint -> degrees about Z of its parent's drop

    def rotate(self, joint: str, x=0.0, y=0.0, z=0.0) -> None:
        j = self.names.index(joint)
        e = np.zeros((len(self.times), 3))
        for i, v in enumerate((x, y, z)):
            e[:, i] += v
        self.euler[j] = self.euler.get(j, 0.0) + e

    def in_dropped_frame(self, joint: str, drop_deg: float) -> None:
        """Read this joint's angles in its parent's lowered frame: a forearm under an upper
        arm lowered by `drop_deg` about Z flexes about the axis the lowering made of X
        (R = Rz(-d) R Rz(d)), so it bends forward, not out sideways."""
        self.frames[self.names.index(joint)] = drop_deg

    def move(self, joint: str, offset: np.ndarray) -> None:
        j = self.names.index(joint)
        self.offsets[j] = self.offsets.get(j, 0.0) + offset

    def clip(self) -> Clip:
        rotations = {}
        for j, e in sorted(self.euler.items()):
            # Extrinsic: Y (twist) first, then Z (raise/lower), then X (swing) last.
            r = Rotation.from_euler("yzx", e[:, [1, 2, 0]], degrees=True)
            if j in self.frames:
                d = Rotation.from_euler("z", self.frames[j], degrees=True)
                r = d.inv() * r * d
            q = r.as_quat()
            for k in range(1, len(q)):  # one hemisphere, so interpolation takes the short way
                if np.dot(q[k], q[k - 1]) < 0:
                    q[k] = -q[k]
            q[-1] = q[0]  # the loop closes exactly
            q /= np.linalg.norm(q, axis=1, keepdims=True)
            rotations[j] = q.astype(np.float32)
        rest = self.positions - np.where(self.parents[:, None] >= 0,
                                         self.positions[np.maximum(self.parents, 0)], 0.0)
        translations = {}
        for j, off in sorted(self.offsets.items()):
            t = rest[j] + off
            t[-1] = t[0]
            translations[j] = t.astype(np.float32)
        return Clip(self.name, self.times.astype(np.float32), rotations, translations)


def _arms_down(tr: _Track, extra_out: float = 0.0) -> None:
    for side in "lr":
        drop = _arm_drop_deg(tr.positions, tr.names, side)
        sign = -1.0 if side == "l" else 1.0
        tr.rotate(f"upperarm_{side}", z=drop + sign * -extra_out)
        tr.in_dropped_frame(f"lowerarm_{side}", drop + sign * -extra_out)


def idle(tr: _Track) -> Clip:
    p = tr.phase
    _arms_down(tr)
    tr.rotate("spine_02", x=1.5 * np.sin(2 * p))  # two breaths per loop
    tr.rotate("spine_03", x=1.0 * np.sin(2 * p - 0.5))
    tr.rotate("pelvis", z=1.2 * np.sin(p))  # slow weight shift
    tr.rotate("spine_01", z=-1.0 * np.sin(p))
    tr.rotate("head", y=6.0 * np.sin(p + 0.7), x=2.0 * np.sin(2 * p))
    for side in "lr":
        tr.rotate(f"lowerarm_{side}", x=-8.0 - 2.0 * np.sin(2 * p))
    return tr.clip()


def _gait(tr: _Track, thigh: float, knee: float, arm: float, elbow: float, lean: float) -> Clip:
    # A quarter period in: the clip starts (and is half-way) at the widest stride, the legs
    # pass each other at a quarter and three quarters of it.
    p = tr.phase + np.pi / 2
    _arms_down(tr, extra_out=4.0 if elbow > 30 else 0.0)
    for side, ph in (("l", p), ("r", p + np.pi)):
        swing = -thigh * np.sin(ph)  # negative: forward
        tr.rotate(f"thigh_{side}", x=swing - 0.25 * thigh)
        # The knee flexes in the swing phase (thigh moving forward), most mid-swing.
        flex = 0.5 + 0.5 * np.cos(ph)
        tr.rotate(f"calf_{side}", x=5.0 + knee * flex ** 2)
        tr.rotate(f"foot_{side}", x=-8.0 * np.cos(ph) + 4.0)
        tr.rotate(f"upperarm_{side}", x=arm * np.sin(ph))  # opposite to the same-side leg
        tr.rotate(f"lowerarm_{side}", x=-elbow - 0.3 * elbow * np.sin(ph) ** 2)
    tr.rotate("pelvis", y=6.0 * np.sin(p), z=2.0 * np.cos(2 * p))
    tr.rotate("spine_01", x=lean, y=-4.0 * np.sin(p))
    tr.rotate("spine_03", y=-4.0 * np.sin(p))
    tr.rotate("head", x=-lean * 0.6)
    tr.move("pelvis", np.zeros((len(p), 3)))  # its height is set by `_grounded`
    return tr.clip()


def walk(tr: _Track) -> Clip:
    return _gait(tr, thigh=24.0, knee=45.0, arm=18.0, elbow=14.0, lean=3.0)


def run(tr: _Track) -> Clip:
    return _gait(tr, thigh=40.0, knee=85.0, arm=30.0, elbow=65.0, lean=10.0)


def wave(tr: _Track) -> Clip:
    p = tr.phase
    # The left arm hangs; the right arm is raised out and up, its forearm waving thrice.
    drop = _arm_drop_deg(tr.positions, tr.names, "l")
    tr.rotate("upperarm_l", z=drop)
    tr.in_dropped_frame("lowerarm_l", drop)
    tr.rotate("lowerarm_l", x=-8.0)
    tr.rotate("clavicle_r", z=-10.0)
    tr.rotate("upperarm_r", z=-100.0 + 3.0 * np.sin(p), x=-15.0)
    tr.rotate("lowerarm_r", z=-35.0 + 25.0 * np.sin(3 * p), x=-10.0)
    tr.rotate("hand_r", z=-8.0 * np.sin(3 * p - 0.6))
    tr.rotate("spine_02", z=2.0 * np.sin(p))
    tr.rotate("head", y=-8.0, z=3.0 * np.sin(p))
    return tr.clip()


_MAKERS = {"idle": idle, "walk": walk, "run": run, "wave": wave}


def make_clips(names: tuple[str, ...] | list[str], body,
               feet: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> list[Clip]:
    """The named clips (canonical order kept) for a `Body` (its rest joints; its feet, so
    walk and run keep the lower foot on the floor). `feet` = (vertices, joints, weights) of
    what touches the floor (boots), default the body's foot vertices."""
    out = []
    for n in names:
        if n not in _MAKERS:
            raise ValueError(f"unknown clip {n!r}; known: {', '.join(CLIP_NAMES)}")
        tr = _Track(n, list(body.joint_names), np.asarray(body.joint_positions, np.float64),
                    np.asarray(body.parents))
        clip = _MAKERS[n](tr)
        if n in GROUNDED:
            clip = _grounded(clip, body, GROUNDED[n], feet)
        out.append(clip)
    return out


def _grounded(clip: Clip, body, lift_m: float,
              feet: tuple[np.ndarray, np.ndarray, np.ndarray] | None) -> Clip:
    """Move the pelvis up or down per key so the lowest foot vertex touches y = 0 (plus
    `lift_m` * the flight curve for a run): the stance foot neither sinks nor floats, as a
    procedural stand-in for foot IK."""
    from generators.humanoid.rig import local_translations, skin_vertices, world_matrices

    if feet is None:
        i = np.concatenate([body.groups["foot_l"], body.groups["foot_r"]])
        feet = (body.vertices[i], body.joints[i], body.weights[i])
    v = np.asarray(feet[0], np.float64)
    floor = float(v[:, 1].min())  # the rest pose's lowest point stays the floor
    # Only the soles can touch the floor (toes, heel, ball): skinning those alone is enough.
    sole = v[:, 1] < floor + SOLE_M
    v = v[sole]
    joints, weights = feet[1][sole].astype(np.int64), feet[2][sole].astype(np.float64)
    pos = np.asarray(body.joint_positions, np.float64)
    pelvis = list(body.joint_names).index("pelvis")
    rest = local_translations(pos, np.asarray(body.parents)).astype(np.float64)
    n = len(body.joint_names)
    track = clip.translations.get(pelvis, np.tile(rest[pelvis], (len(clip.times), 1)))
    track = np.asarray(track, np.float64).copy()
    phase = 2 * np.pi * np.asarray(clip.times, np.float64) / clip.duration
    for k in range(len(clip.times)):
        rot = np.tile(np.asarray([0, 0, 0, 1.0]), (n, 1))
        for j, q in clip.rotations.items():
            rot[j] = q[k]
        local = rest.copy()
        local[pelvis] = track[k]
        world = world_matrices(pos, np.asarray(body.parents), rot, local)
        low = skin_vertices(v, joints, weights, world, pos)[:, 1].min()
        track[k, 1] -= low - floor
        track[k, 1] += lift_m * max(0.0, np.cos(2 * phase[k])) ** 2
    track[-1] = track[0]
    return Clip(clip.name, clip.times, clip.rotations,
                {**clip.translations, pelvis: track.astype(np.float32)})
