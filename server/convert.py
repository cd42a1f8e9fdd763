"""Proto <-> generators conversions. The only place that knows both vocabularies."""

from __future__ import annotations

from typing import Any

from vitrine.v1 import assets_pb2 as pb

from generators.core.registry import GeneratorInfo
from generators.pipeline import Built, File, Progress

KIND_TO_PB = {
    "prop": pb.ASSET_KIND_PROP, "texture": pb.ASSET_KIND_TEXTURE,
    "character": pb.ASSET_KIND_CHARACTER, "render": pb.ASSET_KIND_RENDER,
    "scene": pb.ASSET_KIND_SCENE,
}
# The Options message is the one list of option names: every field of it is read here from
# the generated descriptor, so a new option is one proto field plus its OptionSpec in the
# model that accepts it. Closed enumerations travel as proto enums (PIVOT_CENTER), models use
# lowercase names (center); `material` is a plain string so models may add materials without a
# contract change (the allowed names are in ListModels).
_FIELDS = pb.Options.DESCRIPTOR.fields
ENUM_OPTIONS = {f.name: (f.enum_type.values[0].name.removesuffix("UNSPECIFIED"), f.enum_type)
                for f in _FIELDS if f.enum_type is not None}


def options_from_proto(options: pb.Options) -> dict[str, Any]:
    """Only the options the client set; an enum left UNSPECIFIED counts as unset."""
    out: dict[str, Any] = {}
    for f in _FIELDS:
        if not options.HasField(f.name):
            continue
        value = getattr(options, f.name)
        if f.name in ENUM_OPTIONS:
            prefix, enum = ENUM_OPTIONS[f.name]
            if value == 0:
                continue
            name = enum.values_by_number.get(value)
            # An enum number this server does not know: keep it, so the model's check names
            # the field and the allowed values (proto3 keeps unknown enum numbers).
            out[f.name] = name.name.removeprefix(prefix).lower() if name else value
        else:
            out[f.name] = value
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


def file_to_proto(f: File) -> pb.AssetFile:
    return pb.AssetFile(name=f.name, mime_type=f.mime_type, size_bytes=len(f.data),
                        sha256=f.sha256, lod=f.lod, triangles=f.triangles)


def header_for(built: Built | Progress) -> pb.AssetHeader:
    """The AssetHeader of a built asset, or of one in progress (`files` so far, `file_count`
    of them in all); timings are filled in per call by the servicer."""
    job, (lo, hi) = built.job, built.bounds
    count = built.file_count if isinstance(built, Progress) else len(built.files)
    return pb.AssetHeader(
        asset_id=job.asset_id, seed=built.seed, kind=KIND_TO_PB[built.kind],
        model=job.model.info.name, model_version=job.model.info.version,
        category=built.category, files=[file_to_proto(f) for f in built.files],
        bounds=pb.Bounds(min=pb.Vec3(x=lo[0], y=lo[1], z=lo[2]),
                         max=pb.Vec3(x=hi[0], y=hi[1], z=hi[2])),
        file_count=count,
    )


def progress_header(progress: Progress) -> pb.AssetHeader:
    """The first part of a progressive Generate: the files exported so far, the count to
    come, and this call's timings up to now."""
    header = header_for(progress)
    header.timings.generate_ms = progress.generate_ms
    header.timings.export_ms = progress.export_ms
    return header
