"""Plausible mistakes in Lesson 2's exercises, each written out as a learner would.

See :mod:`xaiexit.grading.gradient_saliency_mistakes` for how the catalogue is used.
"""
from __future__ import annotations

import torch

from xaiexit.grading._catalogue import Catalogue, Mistake

_catalogue = Catalogue()
mistake, of, message, CATALOGUE = _catalogue.mistake, _catalogue.of, _catalogue.message, _catalogue.entries

__all__ = ["CATALOGUE", "Mistake", "mistake", "of", "message"]
