"""The model zoo: shipped checkpoints load offline, are good, and can be rebuilt."""
import json
import shutil
import subprocess
import sys

import pytest
import torch

from xaiexit import zoo
from xaiexit.data import SyntheticPets
from xaiexit.train import evaluate, predict


@pytest.fixture(scope="module")
def pets_test():
    return SyntheticPets("test")


def test_shipped_checkpoint_is_small_and_loads_offline():
    weights = zoo.checkpoint_dir() / "pets_cnn.pt"
    assert weights.exists() and weights.stat().st_size < 2 * 1024 * 1024
    model = zoo.load("pets_cnn")
    assert not model.training
    assert all(not p.grad for p in model.parameters() if p.grad is not None)
    meta = zoo.info("pets_cnn")
    assert meta["train_args"] == zoo.RECIPES["pets_cnn"].train_args


def test_shipped_checkpoint_reaches_90_percent(pets_test):
    result = evaluate(zoo.load("pets_cnn"), pets_test)
    assert result["accuracy"] >= 0.90, result
    # the metadata tells the truth about the shipped weights
    assert result["accuracy"] == pytest.approx(zoo.info("pets_cnn")["metrics"]["test_accuracy"], abs=1e-6)


def test_hard_samples_are_harder_for_the_model(pets_test):
    model = zoo.load("pets_cnn")
    correct = (predict(model, pets_test.images).argmax(1) == pets_test.labels).float()
    order = pets_test.difficulty.argsort()
    quarter = len(order) // 4
    easy, hard = correct[order[:quarter]].mean(), correct[order[-quarter:]].mean()
    assert easy > hard, f"easiest quarter {easy:.3f} should beat hardest quarter {hard:.3f}"


@pytest.mark.slow
def test_retrain_from_the_recipe_lands_within_two_points(tmp_path, pets_test):
    """`python -m xaiexit.zoo train pets_cnn --out DIR` rebuilds the shipped model."""
    run = subprocess.run(
        [sys.executable, "-m", "xaiexit.zoo", "train", "pets_cnn", "--out", str(tmp_path), "--device", "cpu"],
        capture_output=True, text=True, timeout=900,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pets_cnn.json", "pets_cnn.pt"]
    retrained = evaluate(zoo.load("pets_cnn", directory=tmp_path), pets_test)["accuracy"]
    shipped = evaluate(zoo.load("pets_cnn"), pets_test)["accuracy"]
    assert abs(retrained - shipped) <= 0.02, (retrained, shipped)
    meta = json.loads((tmp_path / "pets_cnn.json").read_text())
    assert meta["metrics"]["test_accuracy"] == pytest.approx(retrained, abs=1e-6)
    assert len(meta["history"]["val_accuracy"]) == meta["train_args"]["epochs"]


def test_cli_lists_and_describes(capsys):
    from xaiexit.zoo.__main__ import main

    assert main(["list"]) == 0
    assert "pets_cnn" in capsys.readouterr().out
    assert main(["info", "pets_cnn"]) == 0
    assert json.loads(capsys.readouterr().out)["name"] == "pets_cnn"
    with pytest.raises(SystemExit):
        main(["train", "no_such_model"])


def test_unknown_name_and_damaged_checkpoint_name_the_fix(tmp_path):
    with pytest.raises(KeyError, match="available: .*pets_cnn"):
        zoo.load("resnet9000")
    with pytest.raises(FileNotFoundError, match="xaiexit.zoo train pets_cnn"):
        zoo.load("pets_cnn", directory=tmp_path)
    for suffix in (".pt", ".json"):
        shutil.copy(zoo.checkpoint_dir() / f"pets_cnn{suffix}", tmp_path / f"pets_cnn{suffix}")
    with open(tmp_path / "pets_cnn.pt", "ab") as f:
        f.write(b"garbage")
    with pytest.raises(RuntimeError, match="sha256"):
        zoo.load("pets_cnn", directory=tmp_path)


def test_untrained_model_is_available_without_weights():
    model = zoo.load("pets_cnn", pretrained=False)
    assert isinstance(model, torch.nn.Module) and not model.training


def test_shipped_faces_cnn_loads_and_beats_80_percent():
    """The real-data model of Lesson 1: face vs non-face on scikit-image's LFW subset."""
    from xaiexit.data import LFWFaces

    model = zoo.load("faces_cnn")
    assert not model.training and model.in_channels == 1
    assert zoo.info("faces_cnn")["train_args"] == zoo.RECIPES["faces_cnn"].train_args
    result = evaluate(model, LFWFaces("test", size=32))
    assert result["accuracy"] >= 0.80, result
    assert result["accuracy"] == pytest.approx(zoo.info("faces_cnn")["metrics"]["test_accuracy"], abs=1e-6)


def test_shipped_early_exit_model_matches_its_metadata(pets_test):
    """Lesson 3's model: every exit's test accuracy is what the metadata says, the final
    exit is as good as pets_cnn's bar, and the recipe's joint loss is recorded."""
    from xaiexit.models import EarlyExitCNN, SingleExit

    model = zoo.load("pets_early_exit")
    meta = zoo.info("pets_early_exit")
    assert isinstance(model, EarlyExitCNN) and not model.training
    assert meta["train_args"] == zoo.RECIPES["pets_early_exit"].train_args and meta["loss"] == "early_exit_loss"
    per_exit = [evaluate(SingleExit(model, k), pets_test)["accuracy"] for k in range(model.num_exits)]
    assert per_exit == pytest.approx(meta["metrics"]["test_accuracy_per_exit"], abs=1e-6)
    assert per_exit[-1] >= 0.90 and per_exit[0] >= 0.80, per_exit
    assert (zoo.checkpoint_dir() / "pets_early_exit.pt").stat().st_size < 2 * 1024 * 1024


@pytest.mark.parametrize("name, seed", [("pets_early_exit_seed1", 1), ("pets_early_exit_seed2", 2)])
def test_the_early_exit_recipe_ships_with_two_more_training_seeds(name, seed, pets_test):
    """Lesson 4 measures exit rules over three training seeds: same recipe, same data, only
    the training seed differs, and each network is a different one."""
    from xaiexit.models import SingleExit

    base, recipe = zoo.RECIPES["pets_early_exit"], zoo.RECIPES[name]
    assert recipe.train_args == dict(base.train_args, seed=seed)
    model, meta = zoo.load(name), zoo.info(name)
    assert meta["train_args"]["seed"] == seed and meta["loss"] == "early_exit_loss"
    per_exit = [evaluate(SingleExit(model, k), pets_test)["accuracy"] for k in range(model.num_exits)]
    assert per_exit == pytest.approx(meta["metrics"]["test_accuracy_per_exit"], abs=1e-6)
    assert per_exit[-1] >= 0.90 and per_exit[0] >= 0.80, per_exit
    first = zoo.load("pets_early_exit").state_dict()["features.block1.0.weight"]
    assert not torch.equal(model.state_dict()["features.block1.0.weight"], first)


SEGMENTATION = ["cells_unet", "cells_unet_seed1", "cells_unet_seed2", "cells_unet_no_border",
                "cells_unet_no_border_seed1", "cells_unet_no_border_seed2", "cells_unet_20", "cells_unet_20_augmented"]


@pytest.fixture(scope="module")
def cells_test():
    from xaiexit.data import TouchingCells

    return TouchingCells("test")


@pytest.mark.parametrize("name", SEGMENTATION)
def test_shipped_cell_unets_match_their_metadata(name, cells_test):
    from xaiexit.models import UNet
    from xaiexit.segmentation.training import cell_metrics, predict_masks

    model, meta = zoo.load(name), zoo.info(name)
    assert isinstance(model, UNet) and not model.padding and not model.training
    measured = cell_metrics(predict_masks(model, cells_test.images), cells_test.instances)
    assert {f"test_{k}": v for k, v in measured.items()} == pytest.approx(meta["metrics"], abs=1e-6)
    assert measured["iou"] > 0.85, measured
    assert (zoo.checkpoint_dir() / f"{name}.pt").stat().st_size < 1024 * 1024


def test_the_border_term_separates_touching_cells_on_every_seed():
    """U-Net's claim, on the shipped models: the same recipe without the border term merges
    touching cells far more often."""
    for seed in ("", "_seed1", "_seed2"):
        with_border = zoo.info(f"cells_unet{seed}")["metrics"]
        without = zoo.info(f"cells_unet_no_border{seed}")["metrics"]
        assert with_border["test_separated"] > without["test_separated"] + 0.3, seed
        assert with_border["test_rand_error"] < without["test_rand_error"], seed


def test_shipped_pets_unet_matches_its_metadata():
    from xaiexit.data import SyntheticPets
    from xaiexit.segmentation import class_iou
    from xaiexit.segmentation.training import predict_masks, trimap_classes

    model, meta = zoo.load("pets_unet"), zoo.info("pets_unet")
    test = SyntheticPets("test", size=64, seed=0)
    per_class = class_iou(predict_masks(model, test.images), trimap_classes(test.trimaps), 3, ignore_index=2)
    assert float(torch.nanmean(per_class)) == pytest.approx(meta["metrics"]["test_mean_iou"], abs=1e-6)
    assert meta["metrics"]["test_mean_iou"] > 0.8 and meta["loss"] == "weighted_cross_entropy"


def test_a_segmentation_recipe_trains_with_its_own_loop_and_saves(tmp_path, monkeypatch):
    """Recipes with a trainer (the U-Nets) go through the same train/save/load path."""
    import dataclasses

    from xaiexit.data import TouchingCells

    def few_cells(split):
        return TouchingCells(split, n=4 if split == "train" else 3)

    recipe = zoo.RECIPES["cells_unet"]
    tiny = dataclasses.replace(recipe, name="tiny_cells", train_args=dict(recipe.train_args, epochs=1, n_train=4),
                               build_data=few_cells)
    monkeypatch.setitem(zoo.RECIPES, "tiny_cells", tiny)
    model, meta = zoo.train("tiny_cells", out_dir=tmp_path, progress=False)
    assert set(meta["metrics"]) == {"test_iou", "test_pixel_error", "test_rand_error", "test_separated"}
    assert len(meta["history"]["train_loss"]) == 1 and meta["loss"] == "weighted_cross_entropy"
    reloaded = zoo.load("tiny_cells", directory=tmp_path)
    assert all(torch.equal(a, b) for a, b in zip(reloaded.state_dict().values(), model.state_dict().values()))
