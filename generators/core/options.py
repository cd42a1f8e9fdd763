"""Request options: their declared ranges, and resolution of a request's options into a Spec.

A model declares its options as `OptionSpec`s in its `GeneratorInfo`; a request's options are
checked against those declarations before any work starts, so a bad value fails fast with the
field name and the allowed range.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from generators.core.errors import InvalidOption, short_repr


@dataclass(frozen=True)
class OptionSpec:
    name: str  # field name, as in the wire contract's Options message
    type: str  # "int", "float", "enum" or "set" (comma-separated choices, e.g. "idle,walk")
    default: Any  # value used when the request leaves the option unset; None = model decides
    description: str
    min: float | None = None  # inclusive bounds for int/float
    max: float | None = None
    choices: tuple[str, ...] = ()  # allowed values for enum; a set's members, in canonical order
    empty: str | None = None  # a set's spelling of "no members" (e.g. "none"); None = not allowed
    power_of_two: bool = False  # int options that must be powers of two (texture sizes)

    def allowed(self) -> str:
        """The allowed values, as error messages state them."""
        if self.type == "enum":
            return "one of " + ", ".join(self.choices)
        if self.type == "set":
            empty = f", or {self.empty} alone" if self.empty else ""
            return f"comma-separated names from {', '.join(self.choices)}{empty}"
        rng = f"{_fmt(self.min)} to {_fmt(self.max)}"
        return f"a power of two from {rng}" if self.power_of_two else rng

    def check(self, value: Any, field: str) -> Any:
        """Return the value normalised to the option's type, or raise InvalidOption."""
        if self.type == "enum":
            if value not in self.choices:
                raise InvalidOption(field, f"got {value!r}; allowed: {self.allowed()}")
            return value
        if self.type == "set":
            return self._check_set(value, field)
        if self.type == "int":
            if isinstance(value, float) and not value.is_integer():
                raise InvalidOption(field, f"got {value}; allowed: integers {self.allowed()}")
            value = int(value)
        else:
            value = float(value)
            if not math.isfinite(value):
                raise InvalidOption(field, f"got {value}; allowed: {self.allowed()}")
            value = canonical_float(value)
        if (self.min is not None and value < self.min) or (
            self.max is not None and value > self.max
        ):
            raise InvalidOption(field, f"got {_fmt(value)}; allowed: {self.allowed()}")
        if self.power_of_two and value & (value - 1):
            raise InvalidOption(field, f"got {value}; allowed: {self.allowed()}")
        return value

    def _check_set(self, value: Any, field: str) -> str:
        """A set's one spelling: members in `choices` order, each once ("walk,idle" and
        "idle, walk,idle" are both "idle,walk"); `empty` alone for no members."""
        if isinstance(value, str):
            names = [n.strip() for n in value.split(",")]
        elif isinstance(value, (list, tuple, set, frozenset)):
            names = [str(n).strip() for n in value]
        else:
            raise InvalidOption(field, f"got {value!r}; allowed: {self.allowed()}")
        if self.empty is not None and names == [self.empty]:
            return self.empty
        bad = [n for n in names if n not in self.choices]
        if bad or not names:
            raise InvalidOption(field, f"got {short_repr(value)}; allowed: {self.allowed()}")
        return ",".join(c for c in self.choices if c in set(names))


def canonical_float(value: float) -> float:
    """The shortest decimal that round-trips through float32, the wire's float type: 0.3 sent
    over the wire arrives as 0.30000001192..., and must give the same request (and asset id)
    as 0.3 given in process or left to its default."""
    return float(str(np.float32(value)))


def _fmt(x: float | None) -> str:
    if x is None:
        return "?"
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def resolve_options(
    declared: Sequence[OptionSpec], given: Mapping[str, Any], prefix: str = "options."
) -> dict[str, Any]:
    """Check `given` (only the options the request set) against `declared`; fill defaults.

    Raises InvalidOption naming `prefix + name` for an undeclared option or a bad value.
    """
    by_name = {o.name: o for o in declared}
    out: dict[str, Any] = {}
    for name, value in given.items():
        spec = by_name.get(name)
        if spec is None:
            accepted = ", ".join(sorted(by_name)) or "none"
            raise InvalidOption(
                prefix + name, f"not accepted by this model; it accepts: {accepted}"
            )
        out[name] = spec.check(value, prefix + name)
    for spec in declared:
        out.setdefault(spec.name, spec.default)
    return out
