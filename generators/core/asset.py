"""The in-memory result of a generation, before export turns it into files."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from generators.core.errors import Cancelled

KIND_PROP = "prop"
KIND_TEXTURE = "texture"
KIND_CHARACTER = "character"
KIND_RENDER = "render"
KIND_SCENE = "scene"
KINDS = (KIND_PROP, KIND_TEXTURE, KIND_CHARACTER, KIND_RENDER, KIND_SCENE)


@dataclass(frozen=True)
class Spec:
    """One fully resolved request: every option is present (defaults filled in, ranges checked)."""

    category: str
    seed: int  # >= 1; 0 is resolved to a concrete seed before a Spec exists
    options: Mapping[str, Any]


@dataclass
class PBRSet:
    """One material's maps, all uint8 [H, W, 3]: sRGB base colour, encoded normal, ORM."""

    base_color: np.ndarray
    normal: np.ndarray
    orm: np.ndarray

    def __post_init__(self) -> None:
        shape = None
        for name in ("base_color", "normal", "orm"):
            a = getattr(self, name)
            if not isinstance(a, np.ndarray) or a.dtype != np.uint8 or a.ndim != 3:
                raise ValueError(f"PBRSet.{name} must be a uint8 [H, W, 3] array")
            if a.shape[2] != 3 or (shape is not None and a.shape != shape):
                raise ValueError(f"PBRSet maps must share one [H, W, 3] shape, {name} is {a.shape}")
            shape = a.shape

    @property
    def size(self) -> int:
        return int(self.base_color.shape[0])

    def files(self, prefix: str = "") -> list[tuple[str, str, bytes]]:
        """``[(name, mime, png)]`` for ``{prefix}basecolor.png``, ``normal.png``, ``orm.png``.

        The prefix is prepended verbatim ("rock_" or "rock/" both work).
        """
        from generators.texture.pbr import PNG_MIME, png_bytes  # encoding lives with the maps

        return [
            (f"{prefix}basecolor.png", PNG_MIME, png_bytes(self.base_color)),
            (f"{prefix}normal.png", PNG_MIME, png_bytes(self.normal)),
            (f"{prefix}orm.png", PNG_MIME, png_bytes(self.orm)),
        ]


@dataclass
class Material:
    """A glTF metallic-roughness material: factors, and optionally tileable PBR maps.

    With `textures`, glTF multiplies each map by its factor, so factors are usually left at 1
    (base colour white, metallic and roughness 1) and the maps carry the look. A texture asset
    (kind "texture") is a Material with textures and no meshes.
    """

    name: str
    base_color: tuple[float, float, float, float]  # linear RGBA, as glTF wants
    metallic: float = 0.0
    roughness: float = 0.8
    textures: PBRSet | None = None


@dataclass
class Mesh:
    """One level of detail of a triangle mesh, in metres, +Y up, front faces +Z."""

    vertices: np.ndarray  # [V, 3] float32
    faces: np.ndarray  # [F, 3] uint32, counter-clockwise seen from outside
    normals: np.ndarray  # [V, 3] float32, unit length
    lod: int  # 0 = finest
    uvs: np.ndarray | None = None  # [V, 2] float32 TEXCOORD_0 (glTF: v grows downwards)

    @property
    def triangles(self) -> int:
        return len(self.faces)


class Levels(Sequence[Mesh]):
    """A prop's levels of detail, made on demand, COARSEST FIRST.

    `made()` yields the levels coarsest first, making each when it is asked for, so the
    export can write (and the server stream) the coarsest level while the finer ones are
    still being made. Everything else sees a plain sequence, finest first (lod 0, 1, ...):
    indexing or iterating makes whatever is not made yet. `bounds` (every level lies within
    them) and `len` are known from the start; `ms` is the time spent making levels so far.
    Pickles as a plain list of all its levels."""

    def __init__(self, count: int, bounds: tuple[np.ndarray, np.ndarray],
                 make: Iterator[Mesh]):  # yields `count` meshes, coarsest first
        self.count, self.bounds, self._make = int(count), bounds, make
        self._made: list[Mesh] = []  # coarsest first
        self._lock = threading.Lock()
        self.ms = 0.0

    def _next(self) -> Mesh:
        t0 = time.perf_counter()
        try:
            mesh = next(self._make)
        finally:
            self.ms += (time.perf_counter() - t0) * 1000
        self._made.append(mesh)
        return mesh

    def made(self) -> Iterator[Mesh]:
        """Every level, coarsest first, each made when the loop asks for it."""
        for i in range(self.count):
            with self._lock:
                mesh = self._made[i] if i < len(self._made) else self._next()
            yield mesh

    def _all(self) -> list[Mesh]:
        with self._lock:
            while len(self._made) < self.count:
                self._next()
        return self._made[::-1]

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, i):  # type: ignore[override]
        return self._all()[i]

    def __iter__(self) -> Iterator[Mesh]:
        return iter(self._all())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and list(self) == list(other)

    def __reduce__(self):
        return list, (self._all(),)

    def __repr__(self) -> str:
        return f"Levels({len(self._made)} of {self.count} made)"


@dataclass
class Asset:
    """What a generator returns for one Spec."""

    kind: str
    category: str
    seed: int
    # Finest first (lod 0, 1, ...); a prop's are `Levels`, made coarsest first on demand.
    meshes: Sequence[Mesh] = field(default_factory=list)
    material: Material | None = None
    metadata: dict[str, Any] = field(default_factory=dict)  # JSON-serialisable extras
    rig: Any = None  # a character's skeleton, skinned LODs and clips (export.character)
    # Milliseconds this asset took to generate, set by `Generator.generate` (not part of the
    # bytes); None when a batched model could only time the whole batch.
    generate_ms: float | None = field(default=None, compare=False)

    @property
    def bounds(self) -> tuple[np.ndarray, np.ndarray] | None:
        """AABB of the finest level of detail (of a prop's surface before decimation, when its
        levels are `Levels`: every level lies within it); None for an asset without geometry
        (a texture). Kinds that keep their geometry elsewhere (scenes) override it."""
        if isinstance(self.meshes, Levels):
            return self.meshes.bounds
        if not self.meshes:
            return None
        v = self.meshes[0].vertices
        return v.min(axis=0), v.max(axis=0)


class CancelToken:
    """Set by the caller when nobody wants the result any more; generators poll `check()`."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        """Raise `Cancelled` if the work should stop; call it between stages."""
        if self._event.is_set():
            raise Cancelled("cancelled by the caller")
