"""The one registry of generators, and the contract every generator follows.

A model family registers a `Generator` subclass under a name with `@register("name")`.
The server calls `load_models()` once at start-up: every registered model is constructed
(weights loaded and checked) then, so a model that cannot serve refuses to start instead of
failing the first user. `ListModels` and the unknown-name errors are read from here.
"""

from __future__ import annotations

import abc
import hashlib
import importlib
import logging
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generators.core.asset import KINDS, Asset, CancelToken, Spec
from generators.core.errors import InvalidOption, UnknownCategory, UnknownModel
from generators.core.options import OptionSpec, resolve_options

log = logging.getLogger(__name__)

MAX_SEED = 2**63 - 1

# Modules whose import registers the built-in models, in catalog order.
BUILTIN_MODULES = ("generators.procedural", "generators.voxel_gan", "generators.implicit_gan",
                   "generators.texture_gan")


@dataclass(frozen=True)
class GeneratorInfo:
    name: str
    kind: str  # one of generators.core.asset.KINDS
    version: str  # changes whenever the weights or the code that shapes the bytes change
    description: str
    categories: tuple[str, ...]
    options: tuple[OptionSpec, ...]

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind {self.kind!r} is not one of {KINDS}")
        if not self.categories:
            raise ValueError(f"model {self.name!r} declares no categories")


class Generator(abc.ABC):
    """A model that turns a batch of specs into assets. Load once in __init__; then generate."""

    info: GeneratorInfo

    def resolve(self, category: str, seed: int, options: Mapping[str, Any]) -> Spec:
        """Validate one request into a Spec. seed 0 picks a random seed (reported back)."""
        if category not in self.info.categories:
            raise UnknownCategory(self.info.name, category, list(self.info.categories))
        if not 0 <= seed <= MAX_SEED:
            raise InvalidOption("seed", f"got {seed}; allowed: 0 to {MAX_SEED} (0 = server picks)")
        if seed == 0:
            seed = random.SystemRandom().randint(1, 2**31 - 1)
        return Spec(category, seed, resolve_options(self.info.options, options))

    @abc.abstractmethod
    def generate(self, specs: Sequence[Spec], cancel: CancelToken | None = None) -> list[Asset]:
        """One asset per spec, in order. Same spec + same version -> same asset, always.

        Call `cancel.check()` between stages so a cancelled call stops its work.
        """


_REGISTRY: dict[str, type[Generator]] = {}


def register(name: str) -> Callable[[type[Generator]], type[Generator]]:
    """Class decorator: register a generator under `name`; a second registration is an error."""

    def deco(cls: type[Generator]) -> type[Generator]:
        if name in _REGISTRY:
            raise ValueError(f"a generator named {name!r} is already registered")
        _REGISTRY[name] = cls
        return cls

    return deco


def _import_builtins() -> None:
    for module in BUILTIN_MODULES:
        importlib.import_module(module)


def names() -> list[str]:
    _import_builtins()
    return list(_REGISTRY)


def create(name: str, **kwargs: Any) -> Generator:
    """Construct (load) one registered generator."""
    _import_builtins()
    cls = _REGISTRY.get(name)
    if cls is None:
        raise UnknownModel(name, list(_REGISTRY))
    return cls(**kwargs)


def load_models(only: Sequence[str] | None = None) -> dict[str, Generator]:
    """Construct every registered model (or those named); raises if any refuses to load."""
    wanted = list(only) if only else names()
    models = {}
    for name in wanted:
        gen = create(name)
        log.info("loaded model %s version %s", name, gen.info.version)
        models[name] = gen
    return models


def source_hash(*paths: Path, extra: bytes = b"") -> str:
    """Short hash of source files (and e.g. weights bytes): a version that changes with the code."""
    h = hashlib.sha256(extra)
    files = sorted(
        f for p in paths for f in ([p] if p.is_file() else p.rglob("*.py"))
    )
    for f in files:
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:12]


__all__ = [
    "MAX_SEED",
    "Generator",
    "GeneratorInfo",
    "InvalidOption",
    "create",
    "load_models",
    "names",
    "register",
    "source_hash",
]
