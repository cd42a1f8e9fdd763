"""The one asset pipeline: request -> Spec -> generator -> export -> files + header facts.

Used by the server (`server/service.py` adds the cache and the wire), the benchmarks and the
evaluations, so all of them measure and serve the very same path:

    pipe = Pipeline(load_models())
    job = pipe.prepare("procedural", "chair", 42, {"max_triangles": 8000})
    built = pipe.build([job])[0]        # a Built, or the GeneratorError of that job
    built.files[0].name, built.files[0].sha256

`prepare` validates and canonicalises (every default filled in, one spelling per request), so
equal requests get equal asset ids; `build` groups jobs by model, makes one generate call per
model, and returns one result or one error per job: one bad spec fails only itself.

`build(jobs, on_file=...)` also reports each file the moment it is exported (a prop's levels
of detail are written one at a time, coarsest first), so the server can stream a prop's
coarsest level while its finer ones are still being written (progressive Generate).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from generators.core.asset import KIND_PROP, Asset, CancelToken, Levels, Spec
from generators.core.errors import GeneratorError, UnknownModel
from generators.core.registry import Generator
from generators.export import FileBlob, export_asset
from generators.export.glb import iter_glb

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    """One validated request: its model, canonical Spec, canonical bytes and asset id."""

    model: Generator
    spec: Spec
    canonical: bytes  # `canonical_request`: what the asset id hashes, and what Fetch replays
    asset_id: str


@dataclass(frozen=True)
class File:
    name: str  # e.g. "lod0.glb"
    mime_type: str
    data: bytes
    sha256: str  # hex digest, computed once here
    lod: int = 0
    triangles: int = 0


@dataclass
class Built:
    """A generated and exported asset: what the server caches and streams."""

    job: Job
    kind: str
    category: str
    seed: int
    bounds: tuple[tuple[float, float, float], tuple[float, float, float]]  # AABB of lod0
    files: list[File]  # in streaming order (props: coarsest level of detail first)
    generate_ms: float  # this asset's share of its model call
    export_ms: float  # this asset's own export


@dataclass(frozen=True)
class Progress:
    """What is known of an asset when one of its files has just been exported: `files` are
    the files so far (streaming order), `file_count` how many it will have."""

    job: Job
    kind: str
    category: str
    seed: int
    bounds: tuple[tuple[float, float, float], tuple[float, float, float]]
    file_count: int
    files: tuple[File, ...]
    generate_ms: float
    export_ms: float  # so far


# Called on the building thread with (index of the job in `build`'s list, its progress).
OnFile = Callable[[int, Progress], None]


def canonical_request(model: str, version: str, spec: Spec) -> bytes:
    """The request with every default filled in: equal requests give equal bytes."""
    return json.dumps(
        {"model": model, "version": version, "category": spec.category, "seed": spec.seed,
         "options": dict(spec.options)},
        sort_keys=True, separators=(",", ":"),
    ).encode()


def asset_id(canonical: bytes) -> str:
    return hashlib.sha256(canonical).hexdigest()[:32]


class Pipeline:
    def __init__(self, models: Mapping[str, Generator]):
        self.models = dict(models)

    def prepare(self, model: str, category: str, seed: int, options: Mapping[str, Any]) -> Job:
        """A Job for one request; UnknownModel, UnknownCategory or InvalidOption when it is bad."""
        gen = self.models.get(model)
        if gen is None:
            raise UnknownModel(model, list(self.models))
        spec = gen.resolve(category, seed, options)
        canonical = canonical_request(gen.info.name, gen.info.version, spec)
        return Job(gen, spec, canonical, asset_id(canonical))

    def replay(self, canonical: bytes) -> Job | None:
        """The Job a remembered canonical request stands for, when its model is still loaded
        at the same version (so it makes the very same bytes); else None."""
        d = json.loads(canonical)
        gen = self.models.get(d["model"])
        if gen is None or gen.info.version != d["version"]:
            return None
        spec = Spec(d["category"], int(d["seed"]), d["options"])
        return Job(gen, spec, canonical, asset_id(canonical))

    def build(self, jobs: Sequence[Job], cancel: CancelToken | None = None,
              on_file: OnFile | None = None) -> list[Built | GeneratorError]:
        """Each job's asset or error, in order; one generate call per model. `on_file`, when
        given, hears of every file as soon as it is exported (see the module docstring)."""
        out: list[Built | GeneratorError | None] = [None] * len(jobs)
        by_model: dict[str, list[int]] = {}
        for i, job in enumerate(jobs):
            by_model.setdefault(job.model.info.name, []).append(i)
        for idxs in by_model.values():
            hook = None if on_file is None else (
                lambda k, p, idxs=idxs: on_file(idxs[k], p))
            for i, result in zip(idxs, self._build_one_model([jobs[i] for i in idxs], cancel,
                                                             hook)):
                out[i] = result
        return out  # type: ignore[return-value]

    def _build_one_model(self, jobs: list[Job], cancel: CancelToken | None,
                         on_file: OnFile | None = None) -> list[Built | GeneratorError]:
        model = jobs[0].model
        t0 = time.perf_counter()
        results = model.generate([j.spec for j in jobs], cancel)
        if len(results) != len(jobs):
            raise RuntimeError(f"{model.info.name} returned {len(results)} results for "
                               f"{len(jobs)} specs")
        gen_ms = (time.perf_counter() - t0) * 1000 / len(jobs)
        out: list[Built | GeneratorError] = []
        for k, (job, result) in enumerate(zip(jobs, results)):
            if cancel:
                cancel.check()
            if isinstance(result, GeneratorError):
                out.append(result)
                continue
            own = result.generate_ms
            hook = None if on_file is None else (lambda p, k=k: on_file(k, p))
            out.append(self._export(job, result, gen_ms if own is None else own, hook, cancel))
        return out

    def _export(self, job: Job, asset: Asset, gen_ms: float,
                on_file: Callable[[Progress], None] | None = None,
                cancel: CancelToken | None = None) -> Built:
        t0 = time.perf_counter()
        # A prop's levels of detail are made as the export asks for them (`Levels`): that
        # time is generation, not export, in the timings.
        made_ms = _made_ms(asset)
        # A texture has no geometry: its bounds stay at zero.
        box = asset.bounds
        if box is None:
            bounds = ((0.0,) * 3, (0.0,) * 3)
        else:
            bounds = (tuple(map(float, box[0])), tuple(map(float, box[1])))
        fmt = job.spec.options.get("format", "glb")
        count, blobs = _files(asset, fmt)
        files: list[File] = []
        for b in blobs:
            files.append(File(b.name, b.mime_type, b.data, hashlib.sha256(b.data).hexdigest(),
                              b.lod, b.triangles))
            if on_file is not None:
                extra = _made_ms(asset) - made_ms
                on_file(Progress(job, asset.kind, asset.category, asset.seed, bounds, count,
                                 tuple(files), gen_ms + extra,
                                 (time.perf_counter() - t0) * 1000 - extra))
            if cancel and len(files) < count:
                cancel.check()
        extra = _made_ms(asset) - made_ms
        gen_ms, export_ms = gen_ms + extra, (time.perf_counter() - t0) * 1000 - extra
        # The same figure the CLI prints (header timings generate_ms + export_ms).
        log.info("generated %s %s seed=%d id=%s in %.0f ms (generate %.0f, export %.0f)",
                 job.model.info.name, asset.category, asset.seed, job.asset_id,
                 gen_ms + export_ms, gen_ms, export_ms)
        return Built(job, asset.kind, asset.category, asset.seed, bounds, files, gen_ms,
                     export_ms)


def _made_ms(asset: Asset) -> float:
    return asset.meshes.ms if isinstance(asset.meshes, Levels) else 0.0


def _files(asset: Asset, fmt: str) -> tuple[int, Iterator[FileBlob]]:
    """(how many files, the files in streaming order): a prop's GLB levels are written one at
    a time as they are consumed; every other export is written whole."""
    if asset.kind == KIND_PROP and fmt == "glb":
        return len(asset.meshes), iter_glb(asset)
    blobs = export_asset(asset, fmt)
    return len(blobs), iter(blobs)
