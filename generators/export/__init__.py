"""Asset -> files. A registry of formats, as trimesh's exchange does it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from generators.asset import Asset


@dataclass(frozen=True)
class FileBlob:
    name: str  # e.g. "lod0.glb"
    mime_type: str
    data: bytes
    lod: int = 0
    triangles: int = 0


_EXPORTERS: dict[str, Callable[[Asset], list[FileBlob]]] = {}


def register_format(name: str):
    def deco(fn: Callable[[Asset], list[FileBlob]]):
        if name in _EXPORTERS:
            raise ValueError(f"format {name!r} is already registered")
        _EXPORTERS[name] = fn
        return fn

    return deco


def export_asset(asset: Asset, fmt: str = "glb") -> list[FileBlob]:
    """The asset's files in streaming order (props: coarsest level of detail first)."""
    try:
        exporter = _EXPORTERS[fmt]
    except KeyError:
        raise ValueError(f"unknown format {fmt!r}; known: {', '.join(_EXPORTERS)}") from None
    return exporter(asset)


from generators.export import glb as _glb  # noqa: F401  (registers "glb")
