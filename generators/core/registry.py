"""The one registry of model families, and the contract every generator follows.

A family is one folder under `generators/` whose `__init__.py` defines `FAMILY = Family(...)`
(`generators.core.family`); the registry finds every such folder, so adding a family edits no
list. A studio's exported models join with `add_model_dir`. The server calls `load_models()`
once at start-up: every model it serves, and every model those require (prop models need
texture-gan, their material source), is constructed then, dependencies first, so a model that
cannot serve -- or depends on one that cannot -- refuses to start instead of failing the first
user. `ListModels` and the unknown-name errors are read from here.
"""

from __future__ import annotations

import abc
import hashlib
import json
import logging
import pkgutil
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from generators.core.asset import KINDS, Asset, CancelToken, Spec
from generators.core.errors import (
    Cancelled,
    GenerationFailed,
    GeneratorError,
    InvalidOption,
    ModelLoadError,
    UnknownCategory,
    UnknownModel,
)
from generators.core.family import Family
from generators.core.options import OptionSpec, resolve_options

log = logging.getLogger(__name__)

MAX_SEED = 2**63 - 1


@dataclass(frozen=True)
class GeneratorInfo:
    name: str
    kind: str  # one of generators.core.asset.KINDS
    version: str  # changes whenever the bytes change: `make_version`
    description: str
    categories: tuple[str, ...]
    options: tuple[OptionSpec, ...]

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind {self.kind!r} is not one of {KINDS}")
        if not self.categories:
            raise ValueError(f"model {self.name!r} declares no categories")


def make_version(prefix: str, version: str, weights_sha256: str | None = None,
                 deps: Mapping[str, Generator] | None = None) -> str:
    """A model version: `prefix` + its explicit `version` (bumped by hand whenever the code
    changes the bytes; tests/test_golden.py fails when bytes change without a bump), the
    weights' digest, and a digest of the versions of the models it depends on."""
    out = f"{prefix}{version}"
    if weights_sha256:
        out += f"-{weights_sha256[:8]}"
    if deps:
        ident = ";".join(f"{n}={g.info.version}" for n, g in sorted(deps.items()))
        out += "-" + hashlib.sha256(ident.encode()).hexdigest()[:6]
    return out


class Generator(abc.ABC):
    """A model that turns a batch of specs into assets. Load once in __init__; then generate.

    Constructors take keyword arguments only: the family's `kwargs` (e.g. weights and config
    paths, a served `name`) and `deps`, the loaded models the family `requires`.
    """

    info: GeneratorInfo

    def resolve(self, category: str, seed: int, options: Mapping[str, Any]) -> Spec:
        """Validate one request into a canonical Spec (`canonical`); seed 0 picks a random seed
        (reported back)."""
        if category not in self.info.categories:
            raise UnknownCategory(self.info.name, category, list(self.info.categories))
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
            raise InvalidOption("seed", f"got {seed!r}; allowed: 0 to {MAX_SEED} "
                                "(0 = server picks)")
        if seed == 0:
            seed = random.SystemRandom().randint(1, 2**31 - 1)
        return self.canonical(Spec(category, seed, resolve_options(self.info.options, options)))

    def canonical(self, spec: Spec) -> Spec:
        """The one spelling of a request: requests that make the same bytes must give the same
        Spec (and so the same asset id). Models whose options have equivalent spellings (a morph
        at t = 0 is no morph) override this."""
        return spec

    def generate(self, specs: Sequence[Spec],
                 cancel: CancelToken | None = None) -> list[Asset | GeneratorError]:
        """One asset or one error per spec, in order: a spec that fails fails only itself.
        Same spec + same version -> same asset, always. A cancelled call raises `Cancelled`.

        The default runs `generate_one` per spec; a model that batches overrides this.
        """
        out: list[Asset | GeneratorError] = []
        for spec in specs:
            if cancel:
                cancel.check()
            t0 = time.perf_counter()
            result = self.attempt(self.generate_one, spec, cancel)
            if isinstance(result, Asset):
                result.generate_ms = (time.perf_counter() - t0) * 1000
            out.append(result)
        return out

    def attempt(self, fn: Callable[[Spec, CancelToken | None], Asset], spec: Spec,
                cancel: CancelToken | None) -> Asset | GeneratorError:
        """fn(spec, cancel), or the error it raised for this spec (a bug is logged with its
        traceback and becomes `GenerationFailed`); `Cancelled` propagates."""
        try:
            return fn(spec, cancel)
        except Cancelled:
            raise
        except GeneratorError as err:
            log.warning("%s %s seed %d: %s", self.info.name, spec.category, spec.seed, err)
            return err
        except Exception as err:  # one spec's defect must not fail its batch
            log.exception("%s %s seed %d failed", self.info.name, spec.category, spec.seed)
            return GenerationFailed(f"{self.info.name} could not generate {spec.category} seed "
                                    f"{spec.seed}: {type(err).__name__}")

    def generate_one(self, spec: Spec, cancel: CancelToken | None = None) -> Asset:
        """One asset for one spec (or raise a GeneratorError for it)."""
        raise NotImplementedError(f"{type(self).__name__} implements neither generate nor "
                                  "generate_one")


_FAMILIES: dict[str, Family] = {}
_DISCOVERED = {"done": False}


def register_family(family: Family) -> Family:
    """Add a family (or a studio's model) to the registry; a name registered twice is an error."""
    if family.name in _FAMILIES:
        raise ValueError(f"a generator named {family.name!r} is already registered")
    _FAMILIES[family.name] = family
    return family


def register(name: str, **fields: Any) -> Callable[[type[Generator]], type[Generator]]:
    """Class decorator: register a generator class as a family (tests, ad-hoc models)."""

    def deco(cls: type[Generator]) -> type[Generator]:
        register_family(Family(name=name, generator=cls, **fields))
        return cls

    return deco


def _discover() -> None:
    """Register the FAMILY of every folder of `generators/` that declares one. Only folders
    whose `__init__.py` mentions FAMILY are imported (the others are libraries, not families)."""
    if _DISCOVERED["done"]:
        return
    _DISCOVERED["done"] = True
    import generators

    for mod in pkgutil.iter_modules(generators.__path__):
        init = Path(mod.module_finder.path) / mod.name / "__init__.py"
        if not mod.ispkg or not init.is_file() or "FAMILY" not in init.read_text():
            continue
        module = __import__(f"generators.{mod.name}", fromlist=["FAMILY"])
        family = getattr(module, "FAMILY", None)
        if isinstance(family, Family) and family.name not in _FAMILIES:
            register_family(family)


def families() -> dict[str, Family]:
    """Every registered family and model, in catalog order."""
    _discover()
    return dict(sorted(_FAMILIES.items(), key=lambda kv: (kv[1].order, kv[0])))


def family(name: str) -> Family:
    fams = families()
    if name not in fams:
        raise UnknownModel(name, list(fams))
    return fams[name]


def names() -> list[str]:
    return list(families())


def add_model_dir(path: str | Path) -> list[str]:
    """Register every exported model in `path` (`vitrine export FAMILY --run RUN` writes
    `DIR/NAME/NAME.json` + `NAME.safetensors`, the JSON naming its family); returns their
    names. A model dir that is not one refuses with a message naming the file."""
    root = Path(path)
    if not root.is_dir():
        raise ModelLoadError(f"--model-dir {root}: no such directory")
    added = []
    for cfg_path in sorted(root.glob("*/*.json")):
        if cfg_path.stem != cfg_path.parent.name:  # NAME/NAME.json; beside it e.g. NAME-size.json
            continue
        try:
            cfg = json.loads(cfg_path.read_text())
            base, name = cfg["family"], cfg["model"]
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise ModelLoadError(f"{cfg_path} is not an exported model's config (missing or bad "
                                 f"{err}); re-export it with `vitrine export`") from err
        parent = family(base)
        if parent.base is not None:
            raise ModelLoadError(f"{cfg_path}: family {base!r} is itself an exported model")
        weights = cfg_path.with_suffix(".safetensors")
        known = _FAMILIES.get(name)
        if known is not None and known.kwargs.get("config") == cfg_path:
            added.append(name)  # the same directory added again (a second server in-process)
            continue
        register_family(replace(
            parent, name=name, base=base, order=parent.order + 1, recipe=(),
            kwargs={**parent.kwargs, "weights": weights, "config": cfg_path, "name": name}))
        added.append(name)
    if not added:
        raise ModelLoadError(f"--model-dir {root}: no exported models in it (expected "
                             "NAME/NAME.json files written by `vitrine export`)")
    log.info("models from %s: %s", root, ", ".join(added))
    return added


def create(name: str, **kwargs: Any) -> Generator:
    """Construct (load) one registered model, and the models it requires."""
    fam = family(name)
    deps = kwargs.pop("deps", None)
    if deps is None:
        deps = {d: g for d, g in load_models(fam.requires).items()} if fam.requires else {}
    extra = {"deps": deps} if fam.requires else {}
    return fam.generator_class()(**{**fam.kwargs, **kwargs, **extra})


def load_models(only: Sequence[str] | None = None) -> dict[str, Generator]:
    """Construct every registered model (or those named) and what they require, dependencies
    first; raises ModelLoadError if any cannot serve. Returns the models asked for."""
    wanted = list(only) if only else names()
    loaded: dict[str, Generator] = {}

    def load(name: str, chain: tuple[str, ...]) -> Generator:
        if name in loaded:
            return loaded[name]
        if name in chain:
            raise ModelLoadError(f"models require each other in a cycle: {' -> '.join(chain)}")
        fam = family(name)
        deps = {d: load(d, (*chain, name)) for d in fam.requires}
        try:
            gen = create(name, deps=deps)
        except ModelLoadError as err:
            if chain:
                raise ModelLoadError(f"{chain[-1]} requires {name}, which cannot serve: "
                                     f"{err}") from err
            raise
        log.info("loaded model %s version %s", name, gen.info.version)
        loaded[name] = gen
        return gen

    for name in wanted:
        load(name, ())
    return {n: loaded[n] for n in wanted}


__all__ = [
    "MAX_SEED",
    "Generator",
    "GeneratorInfo",
    "InvalidOption",
    "add_model_dir",
    "create",
    "families",
    "family",
    "load_models",
    "make_version",
    "names",
    "register",
    "register_family",
]
