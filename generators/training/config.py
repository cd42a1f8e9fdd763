"""A family's config dataclass <-> its trainer's command line, and named presets.

Each learned family keeps its architecture and recipe in one `@dataclass` (nanoGPT's way): a
field per option, its default the shipped value, its comment saying what it means and why that
default. `add_arguments` turns the fields into flags (`g_channels` -> `--g-channels`), taking
the help text from the field's trailing comment (or `field(metadata={"help": ...})`); a bool
that defaults to True becomes `--no-NAME`, one that defaults to False `--NAME`; a tuple of ints
is written "128,64,32" (strings too: "marble,brick"). `parse` reads argv into an instance, applying a named preset first
(`--preset tiny`; presets are a plain dict of field overrides), and turns the dataclass's own
validation (`ValueError` from `__post_init__`) into a usage error. `as_dict` / `from_dict` are
the JSON form stored in a run's config.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import re
import typing
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

T = TypeVar("T")

_FIELD_LINE = re.compile(r"^\s+(\w+)\s*:[^#]*?(?:#\s*(.*))?$")
_COMMENT_LINE = re.compile(r"^\s+#\s?(.*)$")


def field_comments(cls: type) -> dict[str, str]:
    """{field: its trailing comment} from the class source, continuation comment lines (lines
    holding only a comment, right after a field) appended; fields of base classes included."""
    out: dict[str, str] = {}
    for klass in reversed(cls.__mro__[:-1]):
        if not dataclasses.is_dataclass(klass):
            continue
        try:
            lines = inspect.getsource(klass).splitlines()
        except (OSError, TypeError):
            continue
        current = None
        for line in lines:
            m = _FIELD_LINE.match(line)
            if m and not line.lstrip().startswith("#"):
                current = m.group(1)
                if m.group(2):
                    out[current] = m.group(2).strip()
                continue
            c = _COMMENT_LINE.match(line)
            if c and current in out:
                out[current] += " " + c.group(1).strip()
            else:
                current = None
    return out


def _is_tuple(tp: Any) -> bool:
    return typing.get_origin(tp) is tuple


def _optional(tp: Any) -> Any:
    """X for `X | None`, else None."""
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    if type(None) in typing.get_args(tp) and len(args) == 1:
        return args[0]
    return None


def _items(tp: Any):
    """The argparse type of a `tuple[X, ...]` field: "a,b,c" -> (X(a), X(b), X(c))."""
    item = typing.get_args(tp)[0]

    def parse(text: str) -> tuple:
        try:
            return tuple(item(c.strip()) for c in str(text).split(",") if c.strip())
        except ValueError as err:
            raise argparse.ArgumentTypeError(
                f"expected comma-separated {item.__name__} values, got {text!r}") from err

    parse.__name__ = f"{item.__name__} list"
    return parse


def _show(value: Any) -> str:
    return ",".join(map(str, value)) if isinstance(value, tuple) else str(value)


def add_arguments(ap: argparse.ArgumentParser, cls: type, defaults: Mapping[str, Any] = {},
                  ) -> None:
    """One flag per field of `cls`; `defaults` (a preset) override the dataclass defaults."""
    hints = typing.get_type_hints(cls)
    comments = field_comments(cls)
    for f in dataclasses.fields(cls):
        if not f.init or f.metadata.get("cli") is False:
            continue
        default = defaults.get(f.name, f.default)
        tp = hints[f.name]
        flag = "--" + f.name.replace("_", "-")
        help_ = f.metadata.get("help", comments.get(f.name, "")).replace("%", "%%")
        kw: dict[str, Any] = {"dest": f.name, "default": default}
        if tp is bool:
            if default:
                ap.add_argument("--no-" + f.name.replace("_", "-"), action="store_false",
                                help=help_, **kw)
            else:
                ap.add_argument(flag, action="store_true", help=help_, **kw)
            continue
        if _is_tuple(tp):
            kw["type"] = _items(tp)
        else:
            kw["type"] = _optional(tp) or tp
        if "choices" in f.metadata:
            kw["choices"] = f.metadata["choices"]
        shown = "" if default is None else f" (default {_show(default)})"
        ap.add_argument(flag, help=(help_ + shown).strip(), **kw)


def from_namespace(cls: type[T], ns: argparse.Namespace) -> T:
    names = {f.name for f in dataclasses.fields(cls) if f.init}
    return cls(**{k: v for k, v in vars(ns).items() if k in names})


def as_dict(cfg: Any) -> dict[str, Any]:
    """The JSON form of a config: its fields, tuples as lists."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(cfg).items()}


def from_dict(cls: type[T], data: Mapping[str, Any]) -> T:
    """The config `as_dict` wrote (lists back to tuples); unknown keys are a ValueError."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValueError(f"{cls.__name__} has no fields {unknown}")
    return cls(**{k: tuple(v) if _is_tuple(hints[k]) and v is not None else v
                  for k, v in data.items()})


def parse(cls: type[T], argv: Sequence[str] | None, presets: Mapping[str, Mapping[str, Any]],
          prog: str, description: str = "") -> T:
    """argv -> a `cls` instance: `--preset NAME` (default "shipped") sets the defaults, flags
    override them; a value the dataclass refuses is a usage error (exit 2) naming it."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--preset", default="shipped", choices=sorted(presets))
    known, _ = pre.parse_known_args(argv)
    ap = argparse.ArgumentParser(prog=prog, description=description)
    ap.add_argument("--preset", default="shipped", choices=sorted(presets),
                    help="named set of defaults, then overridden by the flags given "
                         f"({', '.join(sorted(presets))}; default shipped)")
    add_arguments(ap, cls, presets[known.preset])
    ns = ap.parse_args(argv)
    try:
        return from_namespace(cls, ns)
    except ValueError as err:
        ap.error(str(err))
        raise  # unreachable: error() exits
