"""Proto <-> generators conversions. The only place that knows both vocabularies."""

from __future__ import annotations

from typing import Any

from vitrine.v1 import assets_pb2 as pb

from generators.core.registry import GeneratorInfo
from generators.pipeline import Built

KIND_TO_PB = {
    "prop": pb.ASSET_KIND_PROP, "texture": pb.ASSET_KIND_TEXTURE,
    "character": pb.ASSET_KIND_CHARACTER, "render": pb.ASSET_KIND_RENDER,
}
# Closed enumerations travel as proto enums; generators use lowercase names. `material` is an
# enumerated option too, but travels as a plain string: models may add materials without a
# contract change (the allowed names are in ListModels).
ENUM_OPTIONS = {"pivot": ("PIVOT_", pb.Pivot), "format": ("FORMAT_", pb.Format),
                "normal_convention": ("NORMAL_CONVENTION_", pb.NormalConvention)}
SCALAR_OPTIONS = ("max_triangles", "lod_count", "size_m", "texture_size", "resolution",
                  "material", "variation", "spread", "morph_seed", "morph_t")


def options_from_proto(options: pb.Options) -> dict[str, Any]:
    """Only the options the client set; an enum left UNSPECIFIED counts as unset."""
    out: dict[str, Any] = {}
    for name in SCALAR_OPTIONS:
        if options.HasField(name):
            out[name] = getattr(options, name)
    for name, (prefix, enum) in ENUM_OPTIONS.items():
        if options.HasField(name) and getattr(options, name) != 0:
            out[name] = enum.Name(getattr(options, name)).removeprefix(prefix).lower()
    return out


def model_info_to_proto(info: GeneratorInfo) -> pb.ModelInfo:
    options = []
    for o in info.options:
        default = "" if o.default is None else str(o.default)
        choices = list(o.choices)
        if o.name in ENUM_OPTIONS:  # proto enum value names, e.g. PIVOT_CENTER
            prefix = ENUM_OPTIONS[o.name][0]
            choices = [prefix + c.upper() for c in o.choices]
            if o.default is not None:
                default = prefix + str(o.default).upper()
        options.append(pb.OptionInfo(
            name=o.name, description=o.description, type=o.type,
            min=o.min if o.min is not None else 0.0, max=o.max if o.max is not None else 0.0,
            default_value=default, choices=choices,
        ))
    return pb.ModelInfo(
        name=info.name, kind=KIND_TO_PB[info.kind], version=info.version,
        description=info.description, categories=list(info.categories), options=options,
    )


def header_for(built: Built) -> pb.AssetHeader:
    """The AssetHeader of a built asset (timings are filled in per call by the servicer)."""
    job, (lo, hi) = built.job, built.bounds
    return pb.AssetHeader(
        asset_id=job.asset_id, seed=built.seed, kind=KIND_TO_PB[built.kind],
        model=job.model.info.name, model_version=job.model.info.version,
        category=built.category,
        files=[pb.AssetFile(name=f.name, mime_type=f.mime_type, size_bytes=len(f.data),
                            sha256=f.sha256, lod=f.lod, triangles=f.triangles)
               for f in built.files],
        bounds=pb.Bounds(min=pb.Vec3(x=lo[0], y=lo[1], z=lo[2]),
                         max=pb.Vec3(x=hi[0], y=hi[1], z=hi[2])),
    )
