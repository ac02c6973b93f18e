"""Command line: ``python -m xaiexit.zoo {list,info,train} ...`` (also ``xaiexit-zoo``).

``list`` names the recipes, ``info NAME`` prints a shipped checkpoint's metadata and
``train NAME`` retrains a model from its recipe. A retrain never touches the shipped
checkpoints unless asked to:

- by default it writes ``NAME.pt`` and ``NAME.json`` to the user folder
  :func:`xaiexit.zoo.user_dir` (``$XDG_DATA_HOME/xaiexit/zoo``, i.e.
  ``~/.local/share/xaiexit/zoo``), loaded with ``zoo.load(NAME, directory=...)``;
- ``--out DIR`` writes them to ``DIR`` instead;
- ``--replace-shipped`` overwrites the checkpoint shipped inside the package
  (:func:`xaiexit.zoo.checkpoint_dir`), which ``zoo.load(NAME)`` then loads.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from xaiexit import zoo

NAMES = "a recipe: " + ", ".join(zoo.available())


def _parser() -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    parser = argparse.ArgumentParser(prog="python -m xaiexit.zoo", description="The xaiexit model zoo.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="list the recipes")
    show = commands.add_parser("info", help="show a shipped checkpoint's metadata")
    show.add_argument("name", choices=zoo.available(), metavar="NAME", help=NAMES)
    retrain = commands.add_parser(
        "train",
        help="retrain a model from its recipe (into your user folder unless told otherwise)",
        description="Retrain a model from its recipe and save NAME.pt and NAME.json. By default they go "
        f"to your user folder ({zoo.user_dir()}), so the shipped checkpoint stays as it is; load the "
        "result with zoo.load(NAME, directory=...).",
    )
    retrain.add_argument("name", choices=zoo.available(), metavar="NAME", help=NAMES)
    retrain.add_argument(
        "--out",
        metavar="DIR",
        default=None,
        help="folder for NAME.pt and NAME.json (default: $XDG_DATA_HOME/xaiexit/zoo, i.e. ~/.local/share/xaiexit/zoo)",
    )
    retrain.add_argument(
        "--replace-shipped",
        action="store_true",
        help=f"overwrite the checkpoint shipped inside the package ({zoo.checkpoint_dir()}) instead",
    )
    retrain.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    return parser, retrain


def _train(args, retrain: argparse.ArgumentParser) -> int:
    if args.replace_shipped and args.out is not None:
        retrain.error(
            "--out and --replace-shipped cannot be used together: --replace-shipped writes into the "
            f"package's shipped checkpoints ({zoo.checkpoint_dir()}), --out writes to the folder you name; "
            "choose one"
        )
    if args.replace_shipped:
        out = zoo.checkpoint_dir()
    else:
        out = Path(args.out).expanduser() if args.out is not None else zoo.user_dir()
        out.mkdir(parents=True, exist_ok=True)
    if not os.access(out, os.W_OK):  # find out before training, not after
        retrain.error(f"cannot write to {out}; choose a folder you can write to with --out DIR")
    print(f"training {args.name} into {out} ...", flush=True)
    _, meta = zoo.train(args.name, out_dir=out, device=args.device)
    print(f"saved {args.name} to {out}: {json.dumps(meta['metrics'])}")
    if args.replace_shipped:
        print(f"it replaced the shipped checkpoint; load it with zoo.load({args.name!r})")
    else:
        print(f"load it with zoo.load({args.name!r}, directory={str(out)!r})")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser, retrain = _parser()
    args = parser.parse_args(argv)
    if args.command == "list":
        width = max(map(len, zoo.available()))
        for name in zoo.available():
            print(f"{name:{width}s}  {zoo.RECIPES[name].description}")
    elif args.command == "info":
        print(json.dumps(zoo.info(args.name), indent=2))
    elif args.command == "train":
        return _train(args, retrain)
    return 0


if __name__ == "__main__":
    sys.exit(main())
