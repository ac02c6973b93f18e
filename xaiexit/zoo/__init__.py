"""Reproducible training recipes and the small checkpoints they produce.

>>> from xaiexit import zoo
>>> model = zoo.load("pets_cnn")          # shipped weights, offline, eval mode
>>> zoo.info("pets_cnn")["metrics"]       # doctest: +SKIP
{'test_accuracy': 0.942, 'test_loss': 0.163}

``python -m xaiexit.zoo train pets_cnn`` retrains a model from its recipe into the user
folder :func:`user_dir` (``--out DIR`` elsewhere, ``--replace-shipped`` over the shipped
checkpoint); ``zoo.load("pets_cnn", directory=zoo.user_dir())`` loads the retrained one.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import platform
import tempfile
import time
from importlib import resources
from pathlib import Path

import torch
from torch import nn

from xaiexit.zoo.recipes import RECIPES, Recipe

__all__ = ["RECIPES", "Recipe", "available", "info", "load", "train", "checkpoint_dir", "user_dir"]


def available() -> list[str]:
    """Names of the zoo's recipes."""
    return sorted(RECIPES)


def _recipe(name: str) -> Recipe:
    if name not in RECIPES:
        raise KeyError(f"no zoo model named {name!r}; available: {', '.join(available())}")
    return RECIPES[name]


def checkpoint_dir() -> Path:
    """The folder of shipped checkpoints inside the installed package."""
    return Path(str(resources.files("xaiexit.zoo") / "checkpoints"))


def user_dir() -> Path:
    """Where ``python -m xaiexit.zoo train`` saves by default: ``$XDG_DATA_HOME/xaiexit/zoo``,
    i.e. ``~/.local/share/xaiexit/zoo`` (the shipped checkpoints are left alone)."""
    data = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(data) / "xaiexit" / "zoo"


def _rebuild(name: str, directory: str | os.PathLike | None) -> str:
    """The command that (re)creates ``name``'s checkpoint where it was looked for."""
    if directory is None:
        return f"`python -m xaiexit.zoo train {name} --replace-shipped`"
    return f"`python -m xaiexit.zoo train {name} --out {directory}`"


def _paths(name: str, directory: str | os.PathLike | None) -> tuple[Path, Path]:
    folder = Path(directory) if directory is not None else checkpoint_dir()
    return folder / f"{name}.pt", folder / f"{name}.json"


def info(name: str, directory: str | os.PathLike | None = None) -> dict:
    """The metadata stored beside a checkpoint: recipe, metrics, history, versions."""
    _recipe(name)
    _, meta_path = _paths(name, directory)
    if not meta_path.exists():
        raise FileNotFoundError(
            f"no metadata for {name!r} at {meta_path}; run {_rebuild(name, directory)} to create it"
        )
    return json.loads(meta_path.read_text())


def load(
    name: str,
    *,
    pretrained: bool = True,
    device: str | torch.device = "cpu",
    directory: str | os.PathLike | None = None,
) -> nn.Module:
    """Build the recipe's model and load its checkpoint (offline), in eval mode.

    Parameters
    ----------
    name : str
        A recipe name, see :func:`available`.
    pretrained : bool
        False returns the untrained model (the recipe's seed is not applied).
    device : str or torch.device
        Where to put the model.
    directory : path, optional
        Load from this folder instead of the shipped checkpoints, e.g. a retrain in
        :func:`user_dir`.
    """
    recipe = _recipe(name)
    model = recipe.build_model()
    if pretrained:
        weights_path, meta_path = _paths(name, directory)
        if not weights_path.exists():
            raise FileNotFoundError(
                f"checkpoint {weights_path} is missing; "
                + ("reinstall xaiexit or rebuild it with " if directory is None else "create it with ")
                + _rebuild(name, directory)
            )
        data = weights_path.read_bytes()  # read once: hashed, then loaded
        expected = info(name, directory).get("sha256") if meta_path.exists() else None
        if expected and expected != hashlib.sha256(data).hexdigest():
            raise RuntimeError(
                f"checkpoint {weights_path} does not match its recorded sha256 (file damaged or "
                f"replaced); rebuild it with {_rebuild(name, directory)}"
            )
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
        model.load_state_dict(state)
    return model.to(device).eval()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def train(
    name: str,
    *,
    out_dir: str | os.PathLike | None = None,
    device: str | torch.device | None = None,
    progress: bool = True,
    stop_after: int | None = None,
) -> tuple[nn.Module, dict]:
    """Train a zoo model from its recipe; optionally save weights and metadata.

    Parameters
    ----------
    name : str
        A recipe name.
    out_dir : path, optional
        Folder to write ``<name>.pt`` and ``<name>.json`` into. Files are written to a
        temporary name first and renamed, so a failed run leaves no half-written file.
    device, progress : passed to :func:`xaiexit.train.fit`.
    stop_after : int, optional
        Train only the recipe's first ``stop_after`` epochs (same schedule, see
        :func:`xaiexit.train.fit`): a quick check that the recipe reproduces the start of the
        shipped learning curve. Recipes with their own training loop (U-Nets) refuse it.

    Returns
    -------
    (model, metadata)
    """
    from xaiexit.train import fit, seed_everything

    recipe = _recipe(name)
    seed_everything(recipe.train_args.get("seed", 0))
    model = recipe.build_model()
    started = time.perf_counter()
    if stop_after is not None and out_dir is not None:
        raise ValueError(
            f"a run of {name} stopped after {stop_after} epochs is a check, not the model: it is not saved"
        )
    if recipe.trainer is not None and stop_after is not None:
        raise ValueError(f"{name} trains with its own loop; stop_after works for fit-based recipes only")
    if recipe.trainer is not None:  # the recipe brings its own loop (and metrics, for segmentation)
        history, metrics = recipe.trainer(model, recipe, device=device, progress=progress)
        seconds = time.perf_counter() - started
        model = model.cpu().eval()
        metrics = _test_metrics(model, recipe) if metrics is None else metrics
        return model, _finish(model, recipe, name, history, metrics, seconds, out_dir)
    train_set, val_set = recipe.build_data("train"), recipe.build_data("val")
    history = fit(
        model,
        train_set,
        val_set,
        device=device,
        progress=progress,
        loss=recipe.loss,
        stop_after=stop_after,
        **recipe.train_args,
    )
    seconds = time.perf_counter() - started
    model = model.cpu().eval()
    return model, _finish(model, recipe, name, history.as_dict(), _test_metrics(model, recipe), seconds, out_dir)


def _test_metrics(model: nn.Module, recipe: Recipe) -> dict:
    """A classifier's accuracy and loss on the recipe's evaluation split; for an early-exit
    model, the accuracy of every exit too."""
    from xaiexit.train import evaluate

    test_set = recipe.build_data(recipe.eval_split)
    test = evaluate(model, test_set, device="cpu", loss=recipe.loss)
    metrics = {f"{recipe.eval_split}_accuracy": test["accuracy"], f"{recipe.eval_split}_loss": test["loss"]}
    if hasattr(model, "num_exits"):
        from xaiexit.models import SingleExit

        metrics[f"{recipe.eval_split}_accuracy_per_exit"] = [
            evaluate(SingleExit(model, k), test_set, device="cpu")["accuracy"] for k in range(model.num_exits)
        ]
    return metrics


def _finish(model: nn.Module, recipe: Recipe, name: str, history: dict, metrics: dict, seconds: float, out_dir) -> dict:
    """The metadata of a trained model; saved with its weights when ``out_dir`` is given."""
    meta = {
        "name": name,
        "description": recipe.description,
        "train_args": recipe.train_args,
        "loss": getattr(recipe.loss, "__name__", "cross_entropy").lstrip("_") if recipe.loss else "cross_entropy",
        "metrics": metrics,
        "history": history,
        "train_seconds": round(seconds, 1),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    if out_dir is not None:
        _save(model, meta, Path(out_dir), name)
    return meta


def _save(model: nn.Module, meta: dict, folder: Path, name: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    weights_path, meta_path = _paths(name, folder)
    with tempfile.NamedTemporaryFile(dir=folder, suffix=".pt.tmp", delete=False) as tmp:
        torch.save(model.state_dict(), tmp)
    tmp_path = Path(tmp.name)
    tmp_path.chmod(0o644)  # temporary files are private; a checkpoint is not
    meta = dict(meta, sha256=_sha256(tmp_path))
    meta_tmp = meta_path.with_suffix(".json.tmp")
    meta_tmp.write_text(json.dumps(meta, indent=2) + "\n")
    os.replace(tmp_path, weights_path)
    os.replace(meta_tmp, meta_path)
