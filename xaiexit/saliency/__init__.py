"""Saliency methods: which input pixels does a classifier's decision depend on?

Every method has the same call shape, ``method(model, x, target, **options)``:

- ``x`` is a ``(B, C, H, W)`` batch (never modified);
- ``target`` is an int class, a ``(B,)`` long tensor, or ``None`` for the class the
  model predicts for each sample;
- the explained score is the target class's logit;
- the model runs in eval mode with frozen parameters; its train/eval mode and its
  ``requires_grad`` flags are restored afterwards and no ``.grad`` is written.

Attributions come back shaped like ``x`` (``grad_cam``: ``(B, H, W)``).
``to_heatmap`` turns them into displayable maps; ``xaiexit.saliency.metrics``
scores them; ``xaiexit.saliency.sanity`` checks that a method explains the model
(cascading randomisation, constant-shift invariance).

Examples
--------
>>> from xaiexit.models import SmallCNN
>>> from xaiexit.saliency import integrated_gradients, to_heatmap
>>> model, x = SmallCNN().eval(), torch.rand(2, 3, 64, 64)
>>> to_heatmap(integrated_gradients(model, x, target=1)).shape
torch.Size([2, 64, 64])
"""

from xaiexit.saliency import evidence, metrics, sanity
from xaiexit.saliency.evidence import causal_effects, region_effects, region_shares_with_null
from xaiexit.saliency.grad_cam import grad_cam
from xaiexit.saliency.gradient import gradient_x_input, vanilla_gradient
from xaiexit.saliency.heatmap import to_heatmap
from xaiexit.saliency.integrated_gradients import completeness_gap, integrated_gradients
from xaiexit.saliency.occlusion import occlusion
from xaiexit.saliency.smoothgrad import smoothgrad

__all__ = [
    "vanilla_gradient",
    "gradient_x_input",
    "smoothgrad",
    "integrated_gradients",
    "completeness_gap",
    "grad_cam",
    "occlusion",
    "to_heatmap",
    "causal_effects",
    "region_effects",
    "region_shares_with_null",
    "evidence",
    "metrics",
    "sanity",
]
