"""A model family's one descriptor: what it serves, how it trains, exports and evaluates.

A family is one folder under `generators/` whose `__init__.py` defines

    FAMILY = Family(name="voxel-gan", generator="generators.voxel_gan.generator:VoxelGanGenerator",
                    train="generators.voxel_gan.train:main", ...)

and nothing else needs editing: the registry discovers it (`generators.core.registry`), the
`vitrine train | export | eval` verbs and `make train-NAME` read their entry points and recipe
from it. Entry points are "module:attribute" strings, so listing families imports no torch.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


def load_ref(ref: str | Any) -> Any:
    """The object a "module:attribute" string names (anything else is returned as it is)."""
    if not isinstance(ref, str):
        return ref
    module, _, attr = ref.partition(":")
    if not attr:
        raise ValueError(f"entry point {ref!r} is not of the form 'module:attribute'")
    return getattr(importlib.import_module(module), attr)


@dataclass(frozen=True)
class Family:
    name: str  # the model name clients ask for (ListModels, GenerateRequest.model)
    generator: str | type  # "module:Class" of the served Generator (or the class itself)
    order: int = 100  # position in the catalog (ListModels lists families by it, then by name)
    train: str | None = None  # "module:main": main(argv) -> exit code; None = not trainable
    export: str | None = None  # "module:main": a training run -> weights (shipped or a model dir)
    evaluate: str | None = None  # "module:main": prints the family's metric table
    # The shipped recipe, as `vitrine` argument lists run in order (`vitrine reproduce NAME`,
    # `make train-NAME`): train stages, export, eval. Empty: nothing to reproduce.
    recipe: tuple[tuple[str, ...], ...] = ()
    # Models this one cannot serve without, by family name (prop models need the material
    # source texture-gan): `load_models` loads them first and hands them to the constructor.
    requires: tuple[str, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)  # constructor arguments
    base: str | None = None  # for a studio's exported model: the family it is an instance of

    @classmethod
    def learned(cls, name: str, package: str, generator_class: str, **fields: Any) -> Family:
        """A trained family laid out the usual way: `generator.py` serves, `train.py`,
        `export.py` and `evaluate.py` each have a main(argv)."""
        refs = {verb: f"{package}.{module}:main" for verb, module in
                (("train", "train"), ("export", "export"), ("evaluate", "evaluate"))}
        return cls(name=name, generator=f"{package}.generator:{generator_class}",
                   **{**refs, **fields})

    def generator_class(self) -> type:
        return load_ref(self.generator)

    def entry(self, verb: str):
        """The main(argv) of `verb` ("train", "export", "evaluate"), or None."""
        ref = getattr(self, verb)
        return None if ref is None else load_ref(ref)
