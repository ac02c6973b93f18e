"""Command line: ``python -m xaiexit.zoo {list,info,train} ...``."""
from __future__ import annotations

import argparse
import json
import sys

from xaiexit import zoo


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m xaiexit.zoo", description="The xaiexit model zoo.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="list the recipes")
    show = commands.add_parser("info", help="show a checkpoint's metadata")
    show.add_argument("name", choices=zoo.available())
    retrain = commands.add_parser("train", help="retrain a model from its recipe")
    retrain.add_argument("name", choices=zoo.available())
    retrain.add_argument(
        "--out",
        default=None,
        help="folder for <name>.pt and <name>.json (default: the package's shipped checkpoints)",
    )
    retrain.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    args = parser.parse_args(argv)

    if args.command == "list":
        for name in zoo.available():
            print(f"{name:12s} {zoo.RECIPES[name].description}")
    elif args.command == "info":
        print(json.dumps(zoo.info(args.name), indent=2))
    elif args.command == "train":
        out = args.out if args.out is not None else zoo.checkpoint_dir()
        _, meta = zoo.train(args.name, out_dir=out, device=args.device)
        print(f"saved {args.name} to {out}: {json.dumps(meta['metrics'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
