"""The `vitrine` command.

    vitrine serve [--address 127.0.0.1:50051] [--data-dir .vitrine-data] [--cache-max-gb 2]
    vitrine models
    vitrine generate MODEL --category C [--seed N] [--max-triangles N] ... -o out/
    vitrine generate implicit-gan -c vase --seed 7 --variations 8 [--spread 0.3] -o out/
    vitrine generate implicit-gan -c vase --seed 7 --morph-to 12 --morph-steps 6 -o out/
    vitrine fetch ASSET_ID -o out/
    vitrine train voxel-gan [--out runs/voxel-gan] [--steps N] [--data FILE] ...
    vitrine eval voxel-gan [--n 50] [--run DIR]
    vitrine train texture-gan [--out runs/texture-gan] [--max-minutes M] ...
    vitrine eval texture-gan [--n 32] [--size 256] [--run DIR]
    vitrine train implicit-gan [--out runs/implicit-gan] [--ae-steps N] [--gan-steps N] ...
    vitrine eval implicit-gan [--n 50] [--run DIR] [--side-by-side]
    vitrine dataset build PATH... [--res 32] -o FILE

Exit codes: 0 done, 1 the server refused the request, 2 bad usage, 3 server unreachable.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

EXIT_REFUSED, EXIT_USAGE, EXIT_UNREACHABLE = 1, 2, 3


def _add_address(p: argparse.ArgumentParser) -> None:
    from vitrine.client import DEFAULT_ADDRESS

    p.add_argument("--address", default=DEFAULT_ADDRESS,
                   help="server host:port (default: $VITRINE_ADDRESS or %(default)s)")
    p.add_argument("--timeout", type=float, default=300.0, help="seconds per call (default 300)")


# Options that travel as proto enums -> their value-name prefix.
_PROTO_ENUMS = {"pivot": "PIVOT_", "format": "FORMAT_", "normal_convention": "NORMAL_CONVENTION_"}


def _add_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("asset options (unset: the model's default; `vitrine models` "
                             "lists ranges)")
    g.add_argument("--max-triangles", type=int, help="triangle budget of lod0")
    g.add_argument("--lod-count", type=int, help="levels of detail, 1-4")
    g.add_argument("--size-m", type=float, help="longest side in metres")
    g.add_argument("--pivot", choices=["bottom_center", "center"])
    g.add_argument("--resolution", type=int, help="surface extraction grid resolution")
    g.add_argument("--texture-size", type=int, help="texture edge in pixels (power of two)")
    g.add_argument("--material", help="surface material, e.g. marble (`vitrine models` lists "
                   "them; unset: the category's own)")
    g.add_argument("--format", choices=["glb"])
    g.add_argument("--normal-convention", choices=["opengl", "directx"],
                   help="texture assets: normal-map green axis (directx for Unreal)")
    g.add_argument("--variation", type=int, help="0: the seed's own shape; k: its k-th variation")
    g.add_argument("--spread", type=float, help="how far variations stray (0 to 4)")
    g.add_argument("--morph-seed", type=int, help="morph towards this seed's shape")
    g.add_argument("--morph-t", type=float, help="how far along the morph, 0 to 1")
    x = p.add_argument_group("exploration (one batch call; needs --seed)")
    x.add_argument("--variations", type=int, metavar="N",
                   help="N assets: the seed's own (variation 0) and variations 1 to N-1, each "
                        "saved in OUTPUT/variation-K/")
    x.add_argument("--morph-to", type=int, metavar="SEED",
                   help="morph from --seed to SEED in --morph-steps assets (OUTPUT/morph-I/)")
    x.add_argument("--morph-steps", type=int, default=5, metavar="K",
                   help="assets along a morph, both ends included (default 5)")


def _options(args: argparse.Namespace) -> dict:
    names = ("max_triangles", "lod_count", "size_m", "pivot", "resolution", "texture_size",
             "material", "format", "normal_convention", "variation", "spread", "morph_seed",
             "morph_t")
    return {n: getattr(args, n) for n in names if getattr(args, n) is not None}


def _progress_bar(desc: str):
    from tqdm import tqdm

    bar = tqdm(total=0, unit="B", unit_scale=True, unit_divisor=1024, desc=desc, leave=False,
               file=sys.stderr)

    def update(done: int, total: int) -> None:
        if bar.total != total:
            bar.total = total
        bar.update(done - bar.n)

    return bar, update


def cmd_serve(args: argparse.Namespace) -> int:
    import asyncio

    from server.app import serve
    from server.config import ServerConfig

    config = ServerConfig(
        address=args.address, data_dir=args.data_dir,
        cache_max_bytes=int(args.cache_max_gb * 2**30), chunk_bytes=args.chunk_kib * 1024,
        workers=args.workers, models=tuple(args.models.split(",")) if args.models else (),
    )
    try:
        asyncio.run(serve(config, port_file=args.port_file))
    except OSError as err:
        print(f"vitrine serve: {err}. Is another server running? Pick another --address.",
              file=sys.stderr)
        return EXIT_USAGE
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from google.protobuf import json_format

    from vitrine.client import Client

    with Client(args.address, timeout=args.timeout) as client:
        models = client.list_models()
    if args.json:
        print(json.dumps([json_format.MessageToDict(m) for m in models], indent=2))
        return 0
    for m in models:
        print(f"{m.name}  (version {m.version})  {m.description}")
        print(f"  categories: {', '.join(m.categories)}")
        for o in m.options:
            # Proto-enum choices arrive as value names (PIVOT_CENTER); show what the CLI
            # takes. String choices (material) arrive as they are (weathered_wood).
            prefix = _PROTO_ENUMS.get(o.name, "")
            choices = [c.removeprefix(prefix).lower() if prefix else c for c in o.choices]
            default = o.default_value
            if prefix and default:
                default = default.removeprefix(prefix).lower()
            allowed = ", ".join(choices) if choices else f"{o.min:g} to {o.max:g}"
            print(f"  --{o.name.replace('_', '-'):<15} {allowed:<34} default "
                  f"{default or '(model decides)'}")
    return 0


def _report(asset, paths) -> None:
    t = asset.header.timings
    how = "cache hit" if t.cache_hit else f"generated in {t.generate_ms + t.export_ms:.0f} ms"
    print(f"asset {asset.asset_id}  seed {asset.seed}  ({how})")
    for f, path in zip(asset.header.files, paths):
        tris = f"{f.triangles} triangles" if f.triangles else ""
        print(f"  {path}  {f.size_bytes} bytes  {tris}")


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

    from vitrine.client import Client, VitrineError, request

    try:
        batch = _exploration(args)
    except _Usage as err:
        print(f"vitrine generate: {err}", file=sys.stderr)
        return EXIT_USAGE
    if batch is not None:
        reqs = [request(args.model, args.category, args.seed, **{**_options(args), **extra})
                for _, extra in batch]
        failed = 0
        with Client(args.address, timeout=args.timeout) as client:
            results = client.generate_batch(reqs)
        for (folder, _), asset in zip(batch, results):
            if isinstance(asset, VitrineError):
                print(f"{folder}: refused: {asset.message}", file=sys.stderr)
                failed += 1
                continue
            print(f"{folder}:")
            _report(asset, asset.save(Path(args.output) / folder))
        return EXIT_REFUSED if failed else 0
    bar, update = _progress_bar(f"{args.model}/{args.category}")
    with Client(args.address, timeout=args.timeout) as client:
        try:
            asset = client.generate(args.model, args.category, args.seed, progress=update,
                                    **_options(args))
        finally:
            bar.close()
    _report(asset, asset.save(args.output))
    return 0


def cmd_fetch(args: argparse.Namespace) -> int:
    from vitrine.client import Client

    bar, update = _progress_bar(args.asset_id[:12])
    with Client(args.address, timeout=args.timeout) as client:
        try:
            asset = client.fetch(args.asset_id, progress=update)
        finally:
            bar.close()
    _report(asset, asset.save(args.output))
    return 0


# Trainable / evaluable models -> the module whose main(argv) does the work. The training and
# evaluation code lives with the model in generators/; the CLI only dispatches to it.
TRAINERS = {"voxel-gan": "generators.voxel_gan.train",
            "texture-gan": "generators.texture_gan.train",
            "implicit-gan": "generators.implicit_gan.train"}
EVALUATORS = {"voxel-gan": "generators.voxel_gan.evaluate",
              "texture-gan": "generators.texture_gan.evaluate",
              "implicit-gan": "generators.implicit_gan.evaluate"}


def _dispatch(table: dict[str, str], verb: str, args: argparse.Namespace) -> int:
    import importlib

    module = table.get(args.model)
    if module is None:
        print(f"vitrine {verb}: no {verb}able model named {args.model!r}; "
              f"choose one of: {', '.join(table)}", file=sys.stderr)
        return EXIT_USAGE
    rest = list(args.args)
    if rest and rest[0] == "--":
        rest = rest[1:]
    return importlib.import_module(module).main(rest) or 0


def cmd_train(args: argparse.Namespace) -> int:
    return _dispatch(TRAINERS, "train", args)


def cmd_eval(args: argparse.Namespace) -> int:
    return _dispatch(EVALUATORS, "eval", args)


def cmd_dataset_build(args: argparse.Namespace) -> int:
    from pathlib import Path

    from generators.data.mesh_set import build_mesh_set, save_voxel_set

    missing = [p for p in args.paths if not Path(p).exists()]
    if missing:
        print(f"vitrine dataset build: no such file or directory: {', '.join(missing)}",
              file=sys.stderr)
        return EXIT_USAGE
    try:
        data, skipped = build_mesh_set(args.paths, res=args.res, progress=True)
    except ValueError as err:
        print(f"vitrine dataset build: {err}", file=sys.stderr)
        return EXIT_REFUSED
    for path, reason in skipped:
        print(f"skipped {path}: {reason}", file=sys.stderr)
    save_voxel_set(data, args.output)
    counts = ", ".join(f"{c} {int((data.labels == i).sum())}"
                       for i, c in enumerate(data.categories))
    print(f"wrote {args.output}: {len(data)} shapes at {args.res}^3 ({counts}); "
          f"{len(skipped)} skipped")
    print(f"train on it with: vitrine train voxel-gan --data {args.output} --out runs/my-props")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vitrine", description="vitrine: 3D assets over gRPC")
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING (default INFO)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", help="run the server")
    p.add_argument("--address", default="127.0.0.1:50051", help="host:port to bind")
    p.add_argument("--data-dir", default=".vitrine-data", help="cache directory")
    p.add_argument("--cache-max-gb", type=float, default=2.0, help="cache size cap in GiB")
    p.add_argument("--chunk-kib", type=int, default=256, help="stream chunk size in KiB")
    p.add_argument("--workers", type=int, default=2, help="generation threads")
    p.add_argument("--models", help="comma-separated models to load (default: all)")
    p.add_argument("--port-file", help="write the bound port here (useful with port 0)")
    p.set_defaults(fn=cmd_serve)

    p = sub.add_parser("models", help="list the server's models, categories and options")
    _add_address(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(fn=cmd_models)

    p = sub.add_parser("generate", help="generate an asset and save its files")
    p.add_argument("model", help="model name (see `vitrine models`)")
    p.add_argument("--category", "-c", required=True)
    p.add_argument("--seed", type=int, default=0, help="0 = the server picks (default)")
    p.add_argument("--output", "-o", default=".", help="directory for the files (default .)")
    _add_address(p)
    _add_options(p)
    p.set_defaults(fn=cmd_generate)

    p = sub.add_parser("fetch", help="download an asset generated before, by id")
    p.add_argument("asset_id")
    p.add_argument("--output", "-o", default=".")
    _add_address(p)
    p.set_defaults(fn=cmd_fetch)

    p = sub.add_parser("train", help="train a model (voxel-gan); `vitrine train voxel-gan -h`",
                       add_help=False)
    p.add_argument("model", help=f"one of: {', '.join(TRAINERS)}")
    p.add_argument("args", nargs=argparse.REMAINDER, help="the trainer's own options")
    p.set_defaults(fn=cmd_train)

    p = sub.add_parser("eval", help="print a model's metric table; `vitrine eval voxel-gan -h`",
                       add_help=False)
    p.add_argument("model", help=f"one of: {', '.join(EVALUATORS)}")
    p.add_argument("args", nargs=argparse.REMAINDER, help="the evaluator's own options")
    p.set_defaults(fn=cmd_eval)

    p = sub.add_parser("dataset", help="build training data from your own meshes")
    dsub = p.add_subparsers(dest="dataset_command", required=True)
    d = dsub.add_parser("build", help="voxelise meshes (obj, ply, stl, glb) into a training set; "
                                      "each file's category is its folder's name")
    d.add_argument("paths", nargs="+", metavar="PATH", help="mesh files or folders")
    d.add_argument("--res", type=int, choices=(32, 64), default=32, help="grid resolution")
    d.add_argument("--output", "-o", required=True, help="the .npz file to write")
    d.set_defaults(fn=cmd_dataset_build)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
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
