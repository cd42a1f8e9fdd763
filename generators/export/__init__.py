"""Asset -> files. A registry of formats, as trimesh's exchange does it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from generators.core.asset import Asset


@dataclass(frozen=True)
class FileBlob:
    name: str  # e.g. "lod0.glb"
    mime_type: str
    data: bytes
    lod: int = 0
    triangles: int = 0


# (asset kind or None for "any kind", format) -> exporter. A kind-specific entry wins: a
# texture asset's "glb" is its PNG maps plus a preview GLB, a prop's "glb" its LOD chain.
_EXPORTERS: dict[tuple[str | None, str], Callable[[Asset], list[FileBlob]]] = {}


def register_format(name: str, kind: str | None = None):
    def deco(fn: Callable[[Asset], list[FileBlob]]):
        if (kind, name) in _EXPORTERS:
            raise ValueError(f"format {name!r} is already registered"
                             + (f" for {kind} assets" if kind else ""))
        _EXPORTERS[(kind, name)] = fn
        return fn

    return deco


def export_asset(asset: Asset, fmt: str = "glb") -> list[FileBlob]:
    """The asset's files in streaming order (props: coarsest level of detail first)."""
    exporter = _EXPORTERS.get((asset.kind, fmt)) or _EXPORTERS.get((None, fmt))
    if exporter is None:
        known = sorted({name for _, name in _EXPORTERS})
        raise ValueError(f"unknown format {fmt!r}; known: {', '.join(known)}")
    return exporter(asset)


from generators.export import character as _character  # noqa: F401  (characters' "glb")
from generators.export import glb as _glb  # noqa: F401  (registers "glb")
from generators.export import scene as _scene  # noqa: F401  (scene assets' "glb")
from generators.export import texture as _texture  # noqa: F401  (texture assets' "glb")
