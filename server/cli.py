"""The server distribution's operations verbs of the `vitrine` command.

    vitrine serve [--address 127.0.0.1:50051] [--http-address HOST:PORT] [--data-dir .vitrine-data]
                  [--model-dir DIR]... [--tls-cert PEM --tls-key PEM [--tls-client-ca PEM]]
                  [--auth-tokens FILE] [--log-file PATH [--log-format text|json]]
                  [--ray [--ray-address auto] [--ray-replicas N|MODEL=N]... [--ray-autoscale MIN:MAX]]
    vitrine train MODEL [the trainer's options]       (`vitrine train -h` lists the models)
    vitrine export MODEL --run RUN (--ship | --name NAME [--out-dir models])
    vitrine eval MODEL [the evaluation's options]
    vitrine dataset build PATH... [--res 32] [--up-axis y|z] -o FILE
    vitrine reproduce MODEL [--dry-run] [--from K]    (the shipped model's recipe, in order)

The client's command (`vitrine.cli`, in clients/python) finds `register` through the
"vitrine.commands" entry-point group of this distribution; it never imports server/ or
generators/ otherwise. The train/export/eval verbs and their model lists are read from the
family table (`generators.core.registry.families()`), so a new family needs no edit here.
Nothing is imported at module level beyond the standard library: the client builds its parser
for every command, `vitrine models` included.
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import subprocess
import sys
from collections.abc import Callable

EXIT_REFUSED, EXIT_USAGE = 1, 2

# verb -> (Family attribute holding its entry point, what it does, the adjective for errors)
FAMILY_VERBS = {
    "train": ("train", "train a model family", "trainable"),
    "export": ("export", ("turn a training run into weights: shipped (--ship) or a model dir "
                          "(--name NAME --out-dir DIR) that `vitrine serve --model-dir` serves"),
               "exportable"),
    "eval": ("evaluate", "print a model's metric table", "evaluable"),
}


class _LazyHelp(argparse.Action):
    """-h/--help whose text is built when asked for (the family table imports generators/,
    which the client's other verbs must not pay for)."""

    def __init__(self, option_strings, dest, text: Callable[[argparse.ArgumentParser], str],
                 **kwargs):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS,
                         help="show this help (and the models it knows) and exit")
        self.text = text

    def __call__(self, parser, namespace, values, option_string=None):
        print(self.text(parser))
        parser.exit()


def _families() -> dict:
    from generators.core.registry import families

    return families()


def _with(attr: str) -> list[str]:
    """Names of the families that have an entry point for `attr`, in catalog order."""
    return [name for name, fam in _families().items() if getattr(fam, attr) is not None]


def _summary(fam) -> str:
    """The first line of the family package's docstring (`generators/NAME/__init__.py`)."""
    ref = next((r for r in (fam.train, fam.export, fam.evaluate, fam.generator)
                if isinstance(r, str)), "")
    package = ref.partition(":")[0].rsplit(".", 1)[0]
    doc = (sys.modules.get(package).__doc__ or "") if package in sys.modules else ""
    first = doc.strip().splitlines()[0] if doc.strip() else ""
    return first.split(": ", 1)[-1] if first.startswith("`") else first


def _family_list(attr: str, heading: str) -> str:
    fams = _families()
    names = _with(attr)
    if not names:
        return f"{heading}: none registered"
    width = max(map(len, names))
    lines = [f"  {n:<{width}}  {_summary(fams[n])}".rstrip() for n in names]
    return f"{heading}:\n" + "\n".join(lines)


def _family_help(verb: str) -> Callable[[argparse.ArgumentParser], str]:
    attr, _, adjective = FAMILY_VERBS[verb]

    def text(parser: argparse.ArgumentParser) -> str:
        return (f"{parser.format_help().rstrip()}\n\n{_family_list(attr, f'{adjective} models')}"
                f"\n\n`vitrine {verb} MODEL -h` lists that model's own options.")

    return text


def cmd_family(verb: str, args: argparse.Namespace) -> int:
    """`vitrine train|export|eval MODEL ARGS...` -> the family's main(ARGS)."""
    attr, _, adjective = FAMILY_VERBS[verb]
    names = _with(attr)
    if args.model is None:
        print(f"vitrine {verb}: name a model; {adjective} models: {', '.join(names)}",
              file=sys.stderr)
        return EXIT_USAGE
    if args.model not in names:
        print(f"vitrine {verb}: no {adjective} model named {args.model!r}; choose one of: "
              f"{', '.join(names)}", file=sys.stderr)
        return EXIT_USAGE
    rest = list(args.args)
    if rest and rest[0] == "--":
        rest = rest[1:]
    main = _families()[args.model].entry(attr)
    return main(rest) or 0


def cmd_dataset(args: argparse.Namespace) -> int:
    """`vitrine dataset build ...` -> generators.data.mesh_set.main(["build", ...])."""
    from generators.data.mesh_set import main

    argv = ([args.action] if args.action else []) + list(args.args)
    return main(argv) or 0


def _dataset_help(parser: argparse.ArgumentParser) -> str:
    from generators.data.mesh_set import main

    main(["--help"])  # prints the data tool's own help and exits
    return ""


def _recipes() -> dict[str, tuple[tuple[str, ...], ...]]:
    return {name: fam.recipe for name, fam in _families().items() if fam.recipe}


def _reproduce_help(parser: argparse.ArgumentParser) -> str:
    lines = [parser.format_help().rstrip(), "", "models with a recipe (the steps it runs):"]
    for name, steps in _recipes().items():
        lines.append(f"  {name}")
        lines += [f"    {i}. vitrine {shlex.join(step)}" for i, step in enumerate(steps, 1)]
    return "\n".join(lines)


def cmd_reproduce(args: argparse.Namespace) -> int:
    """Run the family's recipe (train stages, export, eval), each step a `vitrine` process of
    its own (so each run's logging, threads and memory start clean), stopping at the first
    step that fails."""
    recipes = _recipes()
    steps = recipes.get(args.model)
    if steps is None:
        known = ", ".join(recipes) or "none"
        print(f"vitrine reproduce: no recipe for {args.model!r}; models with one: {known}",
              file=sys.stderr)
        return EXIT_USAGE
    if not 1 <= args.start <= len(steps):
        print(f"vitrine reproduce: --from must be 1 to {len(steps)}, got {args.start}",
              file=sys.stderr)
        return EXIT_USAGE
    for i, step in enumerate(steps, 1):
        if i < args.start:
            continue
        line = f"vitrine {shlex.join(step)}"
        print(f"vitrine reproduce {args.model}: step {i}/{len(steps)}: {line}", file=sys.stderr,
              flush=True)
        if args.dry_run:
            continue
        rc = subprocess.run([sys.executable, "-m", "vitrine.cli", *step], check=False).returncode
        if rc != 0:
            print(f"vitrine reproduce {args.model}: step {i} ({line}) failed with exit code "
                  f"{rc}; fix it and go on with `vitrine reproduce {args.model} --from {i}` "
                  "(training resumes from its run directory)", file=sys.stderr)
            return rc
    return 0


# Log files rotate at this size, keeping this many old ones: at most 60 MB on disk.
LOG_FILE_BYTES, LOG_FILE_BACKUPS = 10 * 2**20, 5


class _JsonFormatter:
    """One JSON object per line: time, level, logger, request id, message (+ traceback)."""

    def __init__(self) -> None:
        import logging

        self._base = logging.Formatter()

    def format(self, record) -> str:
        import json

        doc = {"time": self._base.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
               "level": record.levelname, "logger": record.name,
               "request_id": getattr(record, "request_id", "-"), "message": record.getMessage()}
        if record.exc_info:
            doc["exception"] = self._base.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=False)


def setup_serve_logging(level: str, log_file: str | None, log_format: str) -> None:
    """Log to stderr and, with a file, to it too, rotated by size; each line carries the
    request id of the call it belongs to ('-' outside calls)."""
    import logging
    import logging.handlers

    from server.auth import RequestIdFilter

    if log_format == "json":
        formatter = _JsonFormatter()
    else:
        formatter = logging.Formatter(
            "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s")
    handlers: list[logging.Handler] = [logging.StreamHandler()]
    if log_file:
        handlers.append(logging.handlers.RotatingFileHandler(
            log_file, maxBytes=LOG_FILE_BYTES, backupCount=LOG_FILE_BACKUPS, encoding="utf-8"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    for handler in handlers:
        handler.setFormatter(formatter)  # type: ignore[arg-type]
        handler.addFilter(RequestIdFilter())
        root.addHandler(handler)
    root.setLevel(level.upper())


def _set_torch_threads(n: int) -> None:
    """Process-wide: every worker's network runs on this many intra-op threads."""
    import torch

    torch.set_num_threads(n)
    logging.getLogger(__name__).info("torch uses %d intra-op thread(s) per worker", n)


def cmd_serve(args: argparse.Namespace) -> int:
    import asyncio

    try:
        setup_serve_logging(args.log_level, args.log_file, args.log_format)
    except (OSError, ValueError) as err:
        print(f"vitrine serve: cannot log to {args.log_file}: {err}", file=sys.stderr)
        return EXIT_USAGE

    from generators.core.errors import ModelLoadError
    from server.app import serve
    from server.auth import TokenFileError
    from server.config import ServerConfig
    from server.limits import parse_rate

    try:
        rate = parse_rate(args.client_rate)
    except ValueError:
        print(f"vitrine serve: --client-rate must be R/s or R/min with R >= 0 (e.g. 20/s), "
              f"got {args.client_rate!r}", file=sys.stderr)
        return EXIT_USAGE
    try:
        config = ServerConfig(
            address=args.address, data_dir=args.data_dir,
            cache_max_bytes=int(args.cache_max_gb * 2**30), chunk_bytes=args.chunk_kib * 1024,
            cache_memory_bytes=int(args.cache_memory_mib * 2**20),
            workers=args.workers, worker_processes=args.worker_processes,
            torch_threads=max(0, args.torch_threads),
            worker_max_rss_mib=args.worker_max_rss_mib, models=tuple(args.models.split(",")) if args.models else (),
            model_dirs=tuple(args.model_dir), metrics_address=args.metrics_address,
            http_address=args.http_address,
            tls_cert=args.tls_cert, tls_key=args.tls_key, tls_client_ca=args.tls_client_ca,
            auth_tokens=args.auth_tokens, client_concurrency=args.client_concurrency,
            client_rate=rate, client_burst=args.client_burst,
            max_streams_per_connection=args.max_streams_per_connection,
            batch_delay_ms=args.batch_delay_ms,
            batch_models=tuple(m for m in args.batch_models.split(",") if m),
        )
    except ValueError as err:
        print(f"vitrine serve: {err}", file=sys.stderr)
        return EXIT_USAGE
    if args.torch_threads < 0:
        print(f"vitrine serve: --torch-threads must be >= 0 (0: cores / --workers), got "
              f"{args.torch_threads}", file=sys.stderr)
        return EXIT_USAGE
    if args.ray:
        return _serve_ray(args, config)
    _set_torch_threads(args.torch_threads or max(1, (os.cpu_count() or 1) // config.workers))
    try:
        asyncio.run(serve(config, port_file=args.port_file))
    except ModelLoadError as err:
        print(f"vitrine serve: cannot start: {err}", file=sys.stderr)
        return EXIT_REFUSED
    except TokenFileError as err:
        print(f"vitrine serve: --auth-tokens: {err}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as err:
        if "TLS" in str(err):
            print(f"vitrine serve: {err}", file=sys.stderr)
            return EXIT_USAGE
        flag = ("--metrics-address HOST:PORT" if "metrics address" in str(err) else
                "--http-address HOST:PORT (make serve: HTTP_ADDRESS=HOST:PORT)"
                if "HTTP address" in str(err) else
                "--address HOST:PORT (make serve: ADDRESS=HOST:PORT)")
        print(f"vitrine serve: {err}. Is another server running? Pick another address: pass "
              f"{flag}.", file=sys.stderr)
        return EXIT_USAGE
    return 0


def _serve_ray(args: argparse.Namespace, config) -> int:
    """`vitrine serve --ray`: each model a Ray Serve deployment, this front the ingress."""
    try:
        from server.ray_serve import options_from_flags, require_ray, serve_forever

        require_ray()
        options = options_from_flags(args.ray_replicas, args.ray_autoscale,
                                     args.ray_replica_cpus, args.torch_threads or 1,
                                     config.models)
    except (RuntimeError, ValueError) as err:
        print(f"vitrine serve --ray: {err}", file=sys.stderr)
        return EXIT_USAGE
    try:
        serve_forever(config, options, args.ray_address, port_file=args.port_file)
    except (RuntimeError, ValueError, ConnectionError) as err:  # Ray's refusals say why
        print(f"vitrine serve --ray: cannot start: {err}", file=sys.stderr)
        return EXIT_REFUSED
    return 0


def _add_serve(sub) -> None:
    p = sub.add_parser("serve", help="run the server",
                       description="Load the models (refusing to start if one cannot serve), "
                                   "then serve until SIGINT/SIGTERM.")
    p.add_argument("--address", default="127.0.0.1:50051",
                   help="host:port to bind; port 0 picks a free one (default %(default)s)")
    p.add_argument("--http-address", metavar="HOST:PORT",
                   help="also serve the HTTP face here: JSON catalog and generation, asset files "
                        "by URL (Range, ETag), the web viewer at /viewer/ (see /v1/openapi.json); "
                        "off by default, `make serve` turns it on at 127.0.0.1:8080")
    p.add_argument("--data-dir", default=".vitrine-data", help="cache directory "
                   "(default %(default)s)")
    p.add_argument("--cache-max-gb", type=float, default=2.0, help="cache size cap in GiB "
                   "(default %(default)s)")
    p.add_argument("--cache-memory-mib", type=float, default=256.0,
                   help="recently used assets also kept in memory, in MiB; part of the RSS "
                        "(default %(default)s)")
    p.add_argument("--chunk-kib", type=int, default=256, help="stream chunk size in KiB "
                   "(default %(default)s)")
    p.add_argument("--workers", type=int, default=2, help="generation processes (threads "
                   "with --no-worker-processes; default %(default)s)")
    p.add_argument("--worker-processes", action=argparse.BooleanOptionalAction, default=True,
                   help="generate in --workers processes, not threads (default: on; native "
                   "geometry code holds the GIL and, on threads, stalls every other call)")
    p.add_argument("--worker-max-rss-mib", type=int, default=2048, metavar="MIB",
                   help="replace a generation process that holds more than MIB after a call "
                   "(0 = never; default %(default)s)")
    p.add_argument("--torch-threads", type=int, default=0, help="torch intra-op threads "
                   "(default: cores / --workers, at least 1; the workers already share the "
                   "cores, and oversubscribing them made a 24-exhibit gallery 2.5x slower)")
    p.add_argument("--batch-delay-ms", type=float, default=0.0, metavar="MS",
                   help="dynamic batching: a cache miss for one of --batch-models waits up to "
                   "MS for concurrent misses of the same model and they run as one model call "
                   "(0 = off, the default: bench/bench_serve.py measures what it buys)")
    p.add_argument("--batch-models", default="voxel-gan,implicit-gan", metavar="A,B",
                   help="models that --batch-delay-ms applies to (default %(default)s)")
    p.add_argument("--models", help="comma-separated models to load (default: all, and those "
                   "of every --model-dir)")
    p.add_argument("--model-dir", action="append", default=[], metavar="DIR",
                   help="also serve the exported models in DIR (`vitrine export MODEL --run RUN "
                        "--name NAME --out-dir DIR` writes them); repeatable")
    p.add_argument("--port-file", help="write the bound port here (useful with port 0)")
    p.add_argument("--metrics-address", metavar="HOST:PORT",
                   help="serve Prometheus metrics over HTTP here (GET /metrics); off by default")
    r = p.add_argument_group("scale-out on Ray Serve (docs/ray.md)")
    r.add_argument("--ray", action="store_true",
                   help="deploy each model as a Ray Serve deployment (its replicas share the "
                        "cache in --data-dir) with this gRPC/HTTP front as the ingress")
    r.add_argument("--ray-address", metavar="ADDR",
                   help="the Ray cluster to join ('auto': the one this node is in); default: "
                        "start a local one")
    r.add_argument("--ray-replicas", action="append", default=[], metavar="N|MODEL=N",
                   help="replicas per model deployment (default 1), or for one model; repeatable")
    r.add_argument("--ray-autoscale", metavar="MIN:MAX",
                   help="autoscale every model without --ray-replicas MODEL=N between MIN and "
                        "MAX replicas (Serve's autoscaler, target: --workers calls per replica)")
    r.add_argument("--ray-replica-cpus", type=float, default=1.0, metavar="X",
                   help="Ray CPUs each model replica reserves (default %(default)s)")
    s = p.add_argument_group("security (both faces)")
    s.add_argument("--tls-cert", metavar="PEM", help="serve TLS with this certificate (chain)")
    s.add_argument("--tls-key", metavar="PEM", help="the certificate's private key")
    s.add_argument("--tls-client-ca", metavar="PEM",
                   help="require client certificates signed by this CA (mTLS)")
    s.add_argument("--auth-tokens", metavar="FILE",
                   help="require 'authorization: Bearer <token>': one line per client, "
                        "'<token> <client-name> [concurrency=N] [rate=R/s] [burst=N]' "
                        "(# comments); health stays open")
    lim = p.add_argument_group("per-client limits (defaults for clients whose token line sets "
                               "none; a client is its token's name, else its peer host)")
    lim.add_argument("--client-concurrency", type=int, default=16, metavar="N",
                     help="calls in progress at once per client (default %(default)s)")
    lim.add_argument("--client-rate", default="50/s", metavar="R/s",
                     help="calls started per second per client, 0 = unlimited "
                          "(default %(default)s)")
    lim.add_argument("--client-burst", type=int, default=0, metavar="N",
                     help="calls at once above the rate (default: the rate)")
    lim.add_argument("--max-streams-per-connection", type=int, default=256, metavar="N",
                     help="HTTP/2 streams open at once on one connection (default %(default)s)")
    lg = p.add_argument_group("logs")
    lg.add_argument("--log-file", metavar="PATH",
                    help=f"also log here, rotated at {LOG_FILE_BYTES // 2**20} MB keeping "
                         f"{LOG_FILE_BACKUPS} old files")
    lg.add_argument("--log-format", choices=("text", "json"), default="text",
                    help="text lines, or one JSON object per line (default %(default)s)")
    p.set_defaults(fn=cmd_serve, own_logging=True)


def _add_family_verbs(sub) -> None:
    for verb, (_, what, _) in FAMILY_VERBS.items():
        p = sub.add_parser(verb, help=f"{what}; `vitrine {verb} -h` lists the models",
                           description=f"{what}.", add_help=False,
                           usage=f"vitrine {verb} [-h] MODEL [the model's own options]")
        p.add_argument("-h", "--help", action=_LazyHelp, text=_family_help(verb))
        p.add_argument("model", nargs="?", help="a model family (listed below)")
        p.add_argument("args", nargs=argparse.REMAINDER, help="the model's own options")
        # The family's main configures its own logging (a run's train.log among it).
        p.set_defaults(fn=lambda args, verb=verb: cmd_family(verb, args), own_logging=True)


def register(sub: argparse._SubParsersAction) -> None:
    """Add serve, train, export, eval, dataset and reproduce to the `vitrine` parser."""
    _add_serve(sub)
    _add_family_verbs(sub)

    p = sub.add_parser("dataset", help="build training data from your own meshes; "
                                       "`vitrine dataset build -h`",
                       add_help=False, usage="vitrine dataset build PATH... [options] -o FILE")
    p.add_argument("-h", "--help", action=_LazyHelp, text=_dataset_help)
    p.add_argument("action", nargs="?", help="build")
    p.add_argument("args", nargs=argparse.REMAINDER)
    p.set_defaults(fn=cmd_dataset)

    p = sub.add_parser("reproduce", add_help=False,
                       help="train, export and evaluate a shipped model as it was made",
                       description="Run a model family's recipe: its training stages, export "
                                   "and evaluation, in order (`make train-MODEL` runs this).")
    p.add_argument("-h", "--help", action=_LazyHelp, text=_reproduce_help)
    p.add_argument("model", help="a model with a recipe (listed by -h)")
    p.add_argument("--dry-run", action="store_true", help="print the steps; run nothing")
    p.add_argument("--from", dest="start", type=int, default=1, metavar="K",
                   help="start at step K (default 1)")
    p.set_defaults(fn=cmd_reproduce, own_logging=True)
