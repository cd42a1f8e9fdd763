"""Tileable PBR textures: maps from one generation (`pbr`) and training exemplars (`exemplars`).

Importable without grpc. Conventions (row 0 at the top, wrap-mode filters everywhere, OpenGL
+Y-up normals by default, glTF ORM channel layout, sRGB base colour) are stated in
`generators.texture.pbr`; exemplar units in `generators.texture.exemplars`.
"""

from generators.texture.exemplars import (
    MATERIALS,
    PHOTO_MATERIALS,
    PROCEDURAL_MATERIALS,
    Exemplar,
    exemplar,
    periodic_noise,
    photo,
)
from generators.texture.pbr import (
    CONVENTIONS,
    PBRSet,
    ambient_occlusion_from_height,
    check_size,
    encode_normal,
    linear_to_srgb,
    normal_from_height,
    pack_orm,
    pbr_from_albedo_height,
    png_bytes,
    srgb_to_linear,
)

__all__ = [
    "CONVENTIONS",
    "MATERIALS",
    "PHOTO_MATERIALS",
    "PROCEDURAL_MATERIALS",
    "Exemplar",
    "PBRSet",
    "ambient_occlusion_from_height",
    "check_size",
    "encode_normal",
    "exemplar",
    "linear_to_srgb",
    "normal_from_height",
    "pack_orm",
    "pbr_from_albedo_height",
    "periodic_noise",
    "photo",
    "png_bytes",
    "srgb_to_linear",
]
