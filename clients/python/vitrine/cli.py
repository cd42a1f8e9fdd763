"""The `vitrine` command: the client verbs, and whatever verbs installed packages register.

    vitrine models [--json]
    vitrine generate MODEL --category C [--seed N] [--max-triangles N] ... -o out/
    vitrine generate implicit-gan -c vase --seed 7 --variations 8 [--spread 0.3] -o out/
    vitrine generate implicit-gan -c vase --seed 7 --morph-to 12 --morph-steps 6 -o out/
    vitrine fetch ASSET_ID -o out/

The asset options (`--max-triangles`, `--pivot`, ...) are read from the generated descriptor
of `vitrine.v1.Options`, so a new option in the .proto is a new flag here with no edit.

The server distribution (`vitrine-server`, the repository root) adds serve, train, export,
eval, dataset and reproduce through the "vitrine.commands" entry-point group: each entry is a
callable given the subparsers to add its verbs to. This module never imports it otherwise.

Exit codes: 0 done, 1 the server refused the request, 2 bad usage, 3 server unreachable.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from importlib.metadata import entry_points

EXIT_REFUSED, EXIT_USAGE, EXIT_UNREACHABLE = 1, 2, 3
COMMANDS_GROUP = "vitrine.commands"


def _add_address(p: argparse.ArgumentParser) -> None:
    from vitrine.client import DEFAULT_ADDRESS

    p.add_argument("--address", default=DEFAULT_ADDRESS,
                   help="server host:port (default: $VITRINE_ADDRESS or %(default)s)")
    p.add_argument("--timeout", type=float, default=300.0, help="seconds per call (default 300)")
    p.add_argument("--token", default=None,
                   help="bearer token for a server started with --auth-tokens "
                        "(default: $VITRINE_TOKEN)")
    p.add_argument("--ca-file", metavar="PEM", default=None,
                   help="connect with TLS, trusting this CA (the server's --tls-cert signer)")
    p.add_argument("--tls", action="store_true",
                   help="connect with TLS, trusting the system's CAs")
    p.add_argument("--cert-file", metavar="PEM", help="this client's certificate (mTLS)")
    p.add_argument("--key-file", metavar="PEM", help="its private key (mTLS)")


def _client(args: argparse.Namespace):
    from vitrine.client import Client

    return Client(args.address, timeout=args.timeout, token=args.token, ca_file=args.ca_file,
                  tls=args.tls, cert_file=args.cert_file, key_file=args.key_file)


def _int_type(lo: int, hi: int, hint: str = ""):
    """argparse type: an integer in [lo, hi], else a usage error naming the range."""

    def parse(text: str) -> int:
        try:
            value = int(text, 10)
        except ValueError:
            value = None
        if value is None or not lo <= value <= hi:
            raise argparse.ArgumentTypeError(
                f"must be an integer from {_int_text(lo)} to {_int_text(hi)}{hint}, "
                f"got {text!r}")
        return value

    parse.__name__ = "integer"
    return parse


def _float(text: str) -> float:
    import math

    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}")
    return value


def _seed_type():
    from vitrine.client import MAX_SEED

    return _int_type(0, MAX_SEED, f" ({MAX_SEED}; 0 = the server picks)")


def _int_text(value: float) -> str:
    """An integer bound as text; a type's maximum 2^k - 1 (k >= 53) as "2^k-1". OptionInfo
    carries bounds as doubles, which cannot hold those maxima (2^63 - 1 arrives as 2^63), so
    a double bound at such a power of two is printed the same way."""
    import math

    if isinstance(value, int):
        k = (value + 1).bit_length() - 1
        return f"2^{k}-1" if value >= 2**53 and value + 1 == 2**k else str(value)
    if value >= 2**53 and math.log2(value).is_integer():
        return f"2^{int(math.log2(value))}-1"
    return str(int(value))


def _add_options(p: argparse.ArgumentParser) -> None:
    from vitrine.client import OPTION_FIELDS

    g = p.add_argument_group("asset options (unset: the model's default; `vitrine models` "
                             "lists each model's options, ranges and defaults)")
    for f in OPTION_FIELDS.values():
        flag = "--" + f.name.replace("_", "-")
        if f.kind == "enum":
            g.add_argument(flag, dest=f.name, choices=f.choices, type=str.lower)
        elif f.kind == "int":
            g.add_argument(flag, dest=f.name, type=_int_type(f.lo, f.hi), metavar="N")
        elif f.kind == "float":
            g.add_argument(flag, dest=f.name, type=_float, metavar="X")
        elif f.kind == "bool":
            g.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction)
        else:
            g.add_argument(flag, dest=f.name, metavar="NAME")
    x = p.add_argument_group("exploration (one batch call; needs --seed)")
    x.add_argument("--variations", type=int, metavar="N",
                   help="N assets: the seed's own (variation 0) and variations 1 to N-1, each "
                        "saved in OUTPUT/variation-K/")
    x.add_argument("--morph-to", type=_seed_type(), metavar="SEED",
                   help="morph from --seed to SEED in --morph-steps assets (OUTPUT/morph-I/)")
    x.add_argument("--morph-steps", type=int, default=5, metavar="K",
                   help="assets along a morph, both ends included (default 5)")


def _options(args: argparse.Namespace) -> dict:
    from vitrine.client import OPTION_FIELDS

    return {n: getattr(args, n) for n in OPTION_FIELDS if getattr(args, n, None) is not None}


class _Progress:
    """A download bar on stderr, only when stderr is a terminal; it appears with the first
    bytes (nothing is drawn before an error) and is erased when closed (no residue)."""

    def __init__(self, desc: str, stream=None):
        self.desc, self.stream, self.bar = desc, stream or sys.stderr, None
        self.enabled = hasattr(self.stream, "isatty") and self.stream.isatty()

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024,
                            desc=self.desc, leave=False, file=self.stream)
        if self.bar.total != total:
            self.bar.total = total
        self.bar.update(done - self.bar.n)

    def __enter__(self) -> _Progress:  # noqa: PYI034
        return self

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def cmd_models(args: argparse.Namespace) -> int:
    from google.protobuf import json_format

    from vitrine.client import OPTION_FIELDS

    with _client(args) as client:
        models = client.list_models()
    if args.json:
        print(json.dumps([json_format.MessageToDict(m) for m in models], indent=2))
        return 0
    rows = []  # per model: (flag, default, allowed)
    for m in models:
        table = []
        for o in m.options:
            f = OPTION_FIELDS.get(o.name)
            # Enum choices arrive as value names (PIVOT_CENTER): show what the CLI takes.
            # String choices (material) arrive as they are (weathered_wood).
            choices = [f.decode(c) if f else c for c in o.choices]
            default = (f.decode(o.default_value) if f else o.default_value) or "(model decides)"
            if choices:
                allowed = ", ".join(choices)
            elif o.type == "int":
                allowed = f"{_int_text(o.min)} to {_int_text(o.max)}"
            else:
                allowed = f"{o.min:.10g} to {o.max:.10g}"
            table.append(("--" + o.name.replace("_", "-"), default, allowed))
        rows.append(table)
    # One set of column widths for the whole listing; the allowed values (the one column of
    # unbounded width: material names) come last, so a long list never shifts a column.
    flat = [r for table in rows for r in table]
    wf = max((len(r[0]) for r in flat), default=0)
    wd = max((len(r[1]) for r in flat), default=0)
    for m, table in zip(models, rows):
        print(f"{m.name}  (version {m.version})  {m.description}")
        print(f"  categories: {', '.join(m.categories)}")
        for flag, default, allowed in table:
            print(f"  {flag:<{wf}}  default {default:<{wd}}  {allowed}")
    return 0


def _report(asset, paths) -> None:
    # The server's own per-asset figures (each variation of a batch has its own), not the
    # wall time of the call, which includes the transfer and this process's start.
    t = asset.header.timings
    how = "cache hit" if t.cache_hit else f"generated in {t.generate_ms + t.export_ms:.0f} ms"
    print(f"asset {asset.asset_id}  seed {asset.seed}  ({how})")
    for f, path in zip(asset.header.files, paths):
        tris = f"  {f.triangles} triangles" if f.triangles else ""
        print(f"  {path}  {f.size_bytes} bytes{tris}")


class _Usage(Exception):
    """A bad combination of command-line arguments (exit code 2)."""


def _exploration(args: argparse.Namespace) -> list[tuple[str, dict]] | None:
    """(subfolder, extra options) per asset of a --variations or --morph-to batch, or None."""
    if args.variations is None and args.morph_to is None:
        return None
    if args.variations is not None and args.morph_to is not None:
        raise _Usage("--variations and --morph-to are separate batches; give one of them")
    if args.seed == 0:
        raise _Usage("--variations and --morph-to need --seed N (every asset of the batch "
                     "starts from the same seed)")
    if args.variations is not None:
        if not 1 <= args.variations <= 256:
            raise _Usage(f"--variations must be 1 to 256, got {args.variations}")
        return [(f"variation-{k}", {"variation": k}) for k in range(args.variations)]
    if not 2 <= args.morph_steps <= 256:
        raise _Usage(f"--morph-steps must be 2 to 256, got {args.morph_steps}")
    k = args.morph_steps
    return [(f"morph-{i}", {"morph_seed": args.morph_to, "morph_t": i / (k - 1)})
            for i in range(k)]


def cmd_generate(args: argparse.Namespace) -> int:
    from pathlib import Path

    from vitrine.client import VitrineError, request

    try:
        batch = _exploration(args)
    except _Usage as err:
        print(f"vitrine generate: {err}", file=sys.stderr)
        return EXIT_USAGE
    if batch is not None:
        reqs = [request(args.model, args.category, args.seed, **{**_options(args), **extra})
                for _, extra in batch]
        failed = 0
        with _client(args) as client:
            results = client.generate_batch(reqs)
        for (folder, _), asset in zip(batch, results):
            if isinstance(asset, VitrineError):
                print(f"{folder}: refused: {asset.message}", file=sys.stderr)
                failed += 1
                continue
            print(f"{folder}:")
            _report(asset, asset.save(Path(args.output) / folder))
        return EXIT_REFUSED if failed else 0
    with _client(args) as client, \
            _Progress(f"{args.model}/{args.category}") as progress:
        asset = client.generate(args.model, args.category, args.seed, progress=progress,
                                **_options(args))
    _report(asset, asset.save(args.output))
    return 0


def cmd_fetch(args: argparse.Namespace) -> int:
    with _client(args) as client, \
            _Progress(args.asset_id[:12]) as progress:
        asset = client.fetch(args.asset_id, progress=progress)
    _report(asset, asset.save(args.output))
    return 0


def cmd_render(args: argparse.Namespace) -> int:
    from vitrine import render

    with _client(args) as client:
        return render.command(args, client)


def _add_client_verbs(sub) -> None:
    p = sub.add_parser("models", help="list the server's models, categories and options")
    _add_address(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(fn=cmd_models)

    p = sub.add_parser("generate", help="generate an asset and save its files")
    p.add_argument("model", help="model name (see `vitrine models`)")
    p.add_argument("--category", "-c", required=True)
    p.add_argument("--seed", type=_seed_type(), default=0,
                   help="0 to 2^63-1; 0 = the server picks and reports it (default)")
    p.add_argument("--output", "-o", default=".", help="directory for the files (default .)")
    _add_address(p)
    _add_options(p)
    p.set_defaults(fn=cmd_generate)

    p = sub.add_parser("fetch", help="download an asset generated before, by id")
    p.add_argument("asset_id")
    p.add_argument("--output", "-o", default=".")
    _add_address(p)
    p.set_defaults(fn=cmd_fetch)

    p = sub.add_parser("render", help="render generated assets over RenderService: PNG frames "
                       "of an orbit and an animated preview")
    from vitrine import render

    render.add_arguments(p)
    _add_address(p)
    p.set_defaults(fn=cmd_render)


def _add_registered_verbs(sub) -> None:
    """The verbs of installed packages ("vitrine.commands" entry points; the server's)."""
    for ep in sorted(entry_points(group=COMMANDS_GROUP), key=lambda e: e.name):
        # A broken plug-in must not take the client verbs down with it.
        try:
            ep.load()(sub)
        except Exception as err:  # noqa: BLE001
            print(f"vitrine: the {ep.name!r} commands ({ep.value}) did not load: "
                  f"{type(err).__name__}: {err}", file=sys.stderr)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vitrine", description="vitrine: 3D assets over gRPC",
        epilog="serve, train, export, eval, dataset and reproduce come with the server "
               "package (vitrine-server). Exit codes: 0 done, 1 refused, 2 usage, "
               "3 server unreachable.")
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING (default INFO)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_client_verbs(sub)
    _add_registered_verbs(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not getattr(args, "own_logging", False):  # a family's trainer sets up its own
        logging.basicConfig(level=args.log_level.upper(),
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    import grpc

    from vitrine.client import VitrineError

    try:
        return args.fn(args)
    except VitrineError as err:
        print(f"vitrine: {err.message}", file=sys.stderr)
        if err.code == grpc.StatusCode.UNAVAILABLE:
            return EXIT_UNREACHABLE
        return EXIT_REFUSED
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
