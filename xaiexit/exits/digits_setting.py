"""The digits setting: small early-exit networks on scikit-learn's digits, trained in seconds.

On the synthetic pets the first side exit is already right for about 93 % of the images and
max softmax finds most of them, so a rule has little room to beat it. Ten classes of
handwritten digits at 32 x 32 give a first exit that is right only about half the time:
an early exit can save much less safely there, and the rule that decides who leaves
matters more. Lessons 4 and 5 and ``benchmarks/exit_rules.py`` use this recipe for their third
setting; every network is trained on ``Digits("train")`` only.

Examples
--------
>>> from xaiexit.data import Digits
>>> models = train_digits_networks(Digits("train"), seeds=(0,), epochs=1)
>>> models[0].num_exits
3
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from xaiexit.exits.loss import early_exit_loss
from xaiexit.models.early_exit import EarlyExitCNN
from xaiexit.train import fit, seed_everything

#: 32 x 32 grey in, blocks of 16, 32 and 64 channels (each halving the resolution), side
#: exits after blocks 1 and 2, 16-channel branches, ten classes
DIGITS_MODEL = dict(in_channels=1, num_classes=10, widths=(16, 32, 64), exits_after=(1, 2), branch_width=16)
#: all exits trained jointly with equal weights (``early_exit_loss``), Adam with a cosine schedule
DIGITS_TRAINING = dict(epochs=8, lr=3e-3, batch_size=64, weight_decay=1e-4)


def fit_digits_network(model: EarlyExitCNN, train, seed: int, epochs: int | None = None):
    """Train one :data:`DIGITS_MODEL` network in place with :data:`DIGITS_TRAINING`.

    Parameters
    ----------
    model : EarlyExitCNN
        Freshly built right after ``seed_everything(seed)`` (as :func:`train_digits_networks`
        and the zoo's ``digits_early_exit`` recipes do).
    train : Digits or (images, labels)
        The training split only: images (N, 1, 32, 32), labels (N,).
    seed : int
        Shuffling seed.
    epochs : int, optional
        Default :data:`DIGITS_TRAINING` ``["epochs"]``.

    Returns
    -------
    History
        :func:`xaiexit.train.fit`'s learning curve.

    Notes
    -----
    Trained on the CPU with 1 torch thread (restored after): batches of 64 images of 32 x 32
    are too small for a second thread to pay.
    """
    epochs = DIGITS_TRAINING["epochs"] if epochs is None else int(epochs)
    data = (train.images, train.labels) if hasattr(train, "images") else train
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return fit(
            model,
            data,
            epochs=epochs,
            seed=seed,
            progress=False,
            loss=early_exit_loss,
            device="cpu",
            **{k: v for k, v in DIGITS_TRAINING.items() if k != "epochs"},
        )
    finally:
        torch.set_num_threads(threads)


def train_digits_networks(train, seeds: Sequence[int] = (0, 1, 2), epochs: int | None = None) -> list[EarlyExitCNN]:
    """One :data:`DIGITS_MODEL` network per training seed (initialisation and shuffling).

    The zoo ships the result for ``Digits("train")`` and seeds 0, 1, 2 as
    ``digits_early_exit``, ``digits_early_exit_seed1`` and ``digits_early_exit_seed2``.

    Parameters
    ----------
    train : Digits or (images, labels)
        The training split only.
    seeds : sequence of int
    epochs : int, optional
        Default :data:`DIGITS_TRAINING` ``["epochs"]``.

    Returns
    -------
    list of EarlyExitCNN, in eval mode, on the CPU.
    """
    models = []
    for seed in seeds:
        seed_everything(seed)
        model = EarlyExitCNN(**DIGITS_MODEL)
        fit_digits_network(model, train, seed, epochs)
        models.append(model.eval())
    return models
