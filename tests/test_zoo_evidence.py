"""The networks trained where the class lives in the shape, the coat colour, or both."""

from __future__ import annotations

import pytest
import torch

from xaiexit import zoo
from xaiexit.data import SyntheticPets
from xaiexit.saliency.evidence import causal_effects
from xaiexit.train import evaluate

KINDS = {"shape": "pets_cnn", "colour": "pets_cnn_colour", "both": "pets_cnn_both"}
NETWORKS = [(stem + suffix, kind) for kind, stem in KINDS.items() for suffix in ("", "_seed1", "_seed2")]


@pytest.fixture(scope="module")
def test_sets():
    return {kind: SyntheticPets("test", evidence=kind) for kind in KINDS}


@pytest.mark.parametrize("name, kind", NETWORKS)
def test_each_evidence_network_ships_with_its_recipe_and_its_accuracy(name, kind, test_sets):
    meta = zoo.info(name)
    recipe = zoo.RECIPES[name]
    assert meta["train_args"] == recipe.train_args
    assert recipe.build_data("test").evidence == kind
    torch.set_num_threads(1)
    accuracy = evaluate(zoo.load(name), test_sets[kind])["accuracy"]
    assert accuracy == pytest.approx(meta["metrics"]["test_accuracy"], abs=1e-9)
    assert accuracy > 0.9


def test_the_three_seeds_are_three_different_networks():
    for stem in KINDS.values():
        weights = [zoo.load(stem + suffix).state_dict() for suffix in ("", "_seed1", "_seed2")]
        first = next(iter(weights[0]))
        assert not torch.equal(weights[0][first], weights[1][first])
        assert not torch.equal(weights[1][first], weights[2][first])


@torch.no_grad()
def test_each_network_reads_the_evidence_its_data_holds():
    torch.set_num_threads(1)
    for kind, stem in KINDS.items():
        pets = SyntheticPets("test", n=150, evidence=kind)
        effects = causal_effects(zoo.load(stem), pets, parts=("coat", "shape"))
        coat, shape = effects["coat"].mean().item(), effects["shape"].mean().item()
        if kind == "shape":  # the coat is no evidence: recolouring it moves the logit neither way on average
            assert shape > 1.0 and abs(coat) < 0.25 * shape, (coat, shape)
        elif kind == "colour":  # the silhouette is no evidence
            assert coat > 1.0 and abs(shape) < 0.25 * coat, (coat, shape)
        else:
            assert coat > 0.5 and shape > 0.5, (coat, shape)
