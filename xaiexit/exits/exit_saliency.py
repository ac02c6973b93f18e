"""Saliency at an exit, four ways, and what each costs.

An exit head is ``conv -> pool -> linear`` (the final head has no conv). Four maps explain
the class the exit predicts:

- **CAM** (Zhou et al. 2016), forward only: the head's feature map :math:`A`
  ``(B, C, h, w)`` weighted by the classifier's row of that class,
  :math:`\\mathrm{ReLU}(\\sum_c W_{kc} A_c)`. Because pooling and the classifier are
  linear, the exit's logit is the spatial mean of this map (before the ReLU) plus the
  bias: the map *is* the evidence, pixel by pixel, with no backward pass.
- **Grad-CAM** (Selvaraju et al. 2017) on the features the exit receives (the block's
  output): a backward pass through the head, its conv included. On the head's own feature
  map Grad-CAM would give CAM again (divided by ``h * w``): the gradient of a mean is
  constant over positions. Taken one layer earlier it is a different, finer map.
- **gradient** (Simonyan et al. 2013) on the input image: :math:`\\max_c |\\partial z_k /
  \\partial x_c|`, a backward pass from the exit's logit through every block before it.
- **SmoothGrad** (Smilkov et al. 2017): the same averaged over noisy copies of the image,
  each with its own forward pass up to the exit and its own backward pass.

:func:`exit_outputs` computes the logits and any of these maps for a set of images in one
pass (one forward, one backward per exit); :func:`exit_map_randomization` checks that an
exit's map depends on the exit's weights (cascading randomisation, Adebayo et al. 2018).
:func:`saliency_macs` counts what each costs per image, with the conventions of
:mod:`xaiexit.exits.macs`: a backward conv costs the MACs of the forward one (the
transposed convolution it is), and element-wise steps (ReLU, batch norm) are free.

References
----------
.. [1] B. Zhou, A. Khosla, A. Lapedriza, A. Oliva, A. Torralba, "Learning Deep Features
   for Discriminative Localization", CVPR 2016, arXiv:1512.04150.
.. [2] R. R. Selvaraju et al., "Grad-CAM: Visual Explanations from Deep Networks via
   Gradient-based Localization", ICCV 2017, arXiv:1610.02391.
.. [3] K. Simonyan, A. Vedaldi, A. Zisserman, "Deep Inside Convolutional Networks",
   arXiv:1312.6034, 2013; D. Smilkov et al., "SmoothGrad: removing noise by adding
   noise", arXiv:1706.03825, 2017.
.. [4] J. Adebayo et al., "Sanity Checks for Saliency Maps", NeurIPS 2018.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import nn

from xaiexit.exits.macs import count_macs, macs_by_part
from xaiexit.models.early_exit import EarlyExitCNN, Exit, SingleExit
from xaiexit.models.folding import for_cpu_inference

#: every map an exit rule can read
METHODS = ("cam", "grad_cam", "gradient", "smoothgrad")
#: the maps taken on the input image (a backward pass through the blocks): not from a head alone
INPUT_METHODS = ("gradient", "smoothgrad")
#: SmoothGrad at an exit: noisy copies per image and the noise's standard deviation, as a
#: share of each image's value range (Smilkov et al. find 10-20 % best)
SMOOTHGRAD_SAMPLES = 16
SMOOTHGRAD_NOISE = 0.15


def _check_method(method: str) -> None:
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")


def exit_maps(head: Exit, features: torch.Tensor, method: str = "cam") -> tuple[torch.Tensor, torch.Tensor]:
    """An exit's logits and its map of the class it predicts.

    Parameters
    ----------
    head : Exit
        One exit head of an ``EarlyExitCNN`` (``model.exits["exit1"]``, ...).
    features : (B, C_in, H, W) tensor
        What the head receives: the output of the block it follows.
    method : ``"cam"`` or ``"grad_cam"``
        ``"cam"``: forward only, on the head's feature map ``(B, h, w)``;
        ``"grad_cam"``: gradients back through the head, on ``features`` ``(B, H, W)``.
        (The input-gradient maps need the blocks too: :func:`exit_outputs`.)

    Returns
    -------
    logits : (B, K) tensor
        The exit's logits (exactly ``head(features)``), detached.
    maps : (B, h, w) or (B, H, W) tensor
        Non-negative maps of each sample's predicted class, detached.
    """
    _check_method(method)
    if method in INPUT_METHODS:
        raise ValueError(
            f"a {method} map is taken on the input image, through every block before the exit: "
            "use exit_outputs(model, x, methods=(...)) or saliency_at_exits(model, x, method)"
        )
    if method == "cam":
        with torch.no_grad():
            A = head.conv(features)  # (B, C, h, w)
            logits = head.classifier(head.pool(A).flatten(1))
            weights = head.classifier.weight[logits.argmax(dim=1)]  # (B, C): the predicted class's row
            cam = torch.einsum("bc,bchw->bhw", weights, A)
        return logits, cam.clamp(min=0)
    with torch.enable_grad():
        f = features.detach().requires_grad_(True)
        logits = head(f)
        chosen = logits.gather(1, logits.argmax(dim=1, keepdim=True)).sum()
        (grad,) = torch.autograd.grad(chosen, f)
    alpha = grad.mean(dim=(2, 3), keepdim=True)  # (B, C_in, 1, 1)
    return logits.detach(), (alpha * f.detach()).sum(dim=1).clamp(min=0)


class ExitOutputs(NamedTuple):
    """What :func:`exit_outputs` computed for ``N`` images.

    logits : list of ``(N, K)`` tensors, one per exit, on the CPU.
    maps : dict ``method -> list`` with one ``(N, h_k, w_k)`` tensor per exit (``None`` at
        the exits where an input-gradient map was not asked for), on the CPU. The maps
        that need a backward pass may cover only the first images (``backward_images``).
    """

    logits: list
    maps: dict

    def head(self, n: int) -> ExitOutputs:
        """The outputs of the first ``n`` images only."""
        return ExitOutputs(
            [z[:n] for z in self.logits],
            {m: [None if t is None else t[:n] for t in maps] for m, maps in self.maps.items()},
        )

    def rows(self, index: torch.Tensor) -> ExitOutputs:
        """The outputs of the images ``index`` (a long tensor or a bool mask)."""
        return ExitOutputs(
            [z[index] for z in self.logits],
            {m: [None if t is None else t[index] for t in maps] for m, maps in self.maps.items()},
        )


def _cam_and_logits(head: Exit, f: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The head's feature map ``A`` and its logits, in the graph of ``f``."""
    A = head.conv(f)
    return A, head.classifier(head.pool(A).flatten(1))


def exit_outputs(
    model: EarlyExitCNN,
    x: torch.Tensor,
    methods: Sequence[str] = ("cam",),
    batch_size: int = 256,
    input_exits: Sequence[int] | None = None,
    smoothgrad_samples: int = SMOOTHGRAD_SAMPLES,
    smoothgrad_noise: float = SMOOTHGRAD_NOISE,
    seed: int = 0,
    fast: bool = False,
    backward_images: int | None = None,
) -> ExitOutputs:
    """Every exit's logits and the maps of ``methods`` for a set of images, in one pass.

    Each batch runs through the blocks once; at every exit the head runs once and one
    backward pass gives both the Grad-CAM weights and the input gradient. Every exit is
    computed for every image: right for analysis and for sweeping thresholds, not for
    saving compute (:func:`saliency_macs` counts what a map costs at inference).

    Parameters
    ----------
    model : EarlyExitCNN
        Never modified (a frozen copy runs).
    x : (N, C, H, W) tensor
    methods : sequence of ``"cam"``, ``"grad_cam"``, ``"gradient"``, ``"smoothgrad"``
        ``"gradient"``: :math:`\\max_c |\\partial z / \\partial x_c|` of the exit's predicted
        logit, ``(N, H, W)`` on the input grid; ``"smoothgrad"``: the mean of ``|gradient|``
        over ``smoothgrad_samples`` noisy copies (noise ``smoothgrad_noise`` times each
        image's value range), then the maximum over channels.
    batch_size : int
        Images per pass.
    input_exits : sequence of int, optional
        The exits (0-based) that get the input-gradient maps (default: all of them; the
        final exit's is the most expensive). Elsewhere their entry is ``None``.
    seed : int
        Seeds SmoothGrad's noise (one generator for the whole call).
    fast : bool
        Run a copy with batch norm folded and channels-last memory
        (:func:`~xaiexit.models.for_cpu_inference`): the same function up to float
        rounding, about twice as fast on a CPU.
    backward_images : int, optional
        Only the first ``backward_images`` images get the maps that need a backward pass
        (Grad-CAM, gradient, SmoothGrad: the expensive ones), e.g. a random subset when the
        images come in random order; default all. Every image gets its logits and CAM.

    Returns
    -------
    ExitOutputs
        ``(logits, maps)``.

    Examples
    --------
    >>> model = EarlyExitCNN(widths=(8, 16, 32), exits_after=(1,), branch_width=8)
    >>> out = exit_outputs(model, torch.rand(5, 3, 32, 32), ("cam", "gradient"), input_exits=(0,))
    >>> [tuple(m.shape) for m in out.maps["cam"]], tuple(out.maps["gradient"][0].shape), out.maps["gradient"][1]
    ([(5, 8, 8), (5, 4, 4)], (5, 32, 32), None)
    """
    methods = tuple(dict.fromkeys(methods))
    for m in methods:
        _check_method(m)
    n_exits = model.num_exits
    input_exits = set(range(n_exits)) if input_exits is None else {int(k) % n_exits for k in input_exits}
    device = next(model.parameters()).device
    net = for_cpu_inference(model) if fast else copy.deepcopy(model).eval()
    for p in net.parameters():
        p.requires_grad_(False)
    heads = list(net.exits.values())
    want_gradient = "gradient" in methods
    last_block = max(model.exit_blocks[k] for k in input_exits) if input_exits else 0  # no graph beyond it
    generator = torch.Generator(device=device).manual_seed(seed)
    logits_parts = [[] for _ in range(n_exits)]
    maps_parts = {m: [[] for _ in range(n_exits)] for m in methods}
    n_backward = len(x) if backward_images is None else min(int(backward_images), len(x))
    starts = sorted(set(range(0, len(x), batch_size)) | ({n_backward} if 0 < n_backward < len(x) else set()))
    for start, stop in zip(starts, starts[1:] + [len(x)]):
        xb = x[start:stop].detach().to(device)
        if fast:
            xb = xb.contiguous(memory_format=torch.channels_last)
        backward = start < n_backward  # this batch gets the maps that need a backward pass
        with_gradient = want_gradient and backward
        with_grad_cam = "grad_cam" in methods and backward
        leaf = xb.clone().requires_grad_(with_gradient)
        with torch.set_grad_enabled(with_gradient):
            h, k = leaf, 0
            for i, block in enumerate(net.features, start=1):
                with torch.set_grad_enabled(with_gradient and i <= last_block):
                    h = block(h)
                if i not in net.exit_blocks:
                    continue
                through_input = with_gradient and k in input_exits
                f = h if through_input else h.detach().requires_grad_(with_grad_cam)
                with torch.set_grad_enabled(f.requires_grad):
                    A, logits = _cam_and_logits(heads[k], f)
                    predicted = logits.argmax(dim=1)
                    chosen = logits.gather(1, predicted[:, None]).sum()  # the predicted logits, summed
                if "cam" in methods:
                    weights = heads[k].classifier.weight[predicted]
                    maps_parts["cam"][k].append(torch.einsum("bc,bchw->bhw", weights, A.detach()).clamp(min=0).cpu())
                wrt = ([f] if with_grad_cam else []) + ([leaf] if through_input else [])
                if wrt:
                    grads = torch.autograd.grad(chosen, wrt, retain_graph=with_gradient)
                    if with_grad_cam:
                        alpha = grads[0].mean(dim=(2, 3), keepdim=True)
                        maps_parts["grad_cam"][k].append((alpha * f.detach()).sum(dim=1).clamp(min=0).cpu())
                    if through_input:
                        maps_parts["gradient"][k].append(grads[-1].abs().amax(dim=1).contiguous().cpu())
                if "smoothgrad" in methods and k in input_exits and backward:
                    maps_parts["smoothgrad"][k].append(
                        _smoothgrad_map(net, k, xb, predicted, smoothgrad_samples, smoothgrad_noise, generator)
                    )
                logits_parts[k].append(logits.detach().cpu())
                k += 1
    logits_out = [torch.cat(p) for p in logits_parts]
    maps_out = {m: [torch.cat(p) if p else None for p in parts] for m, parts in maps_parts.items()}
    return ExitOutputs(logits_out, maps_out)


def _smoothgrad_map(net, k, x, target, samples, noise, generator) -> torch.Tensor:
    from xaiexit.saliency.smoothgrad import smoothgrad

    attr = smoothgrad(SingleExit(net, k), x, target, n=samples, noise=noise, generator=generator)
    return attr.amax(dim=1).contiguous().cpu()


def saliency_at_exits(
    model: EarlyExitCNN, x: torch.Tensor, method: str = "cam", batch_size: int = 256
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Every exit's logits and maps for a set of images (all exits computed: for analysis
    and for sweeping thresholds, not for saving compute). One method of
    :func:`exit_outputs`.

    Parameters
    ----------
    model : EarlyExitCNN
        Never modified.
    x : (N, C, H, W) tensor
    method : ``"cam"``, ``"grad_cam"``, ``"gradient"`` or ``"smoothgrad"``
    batch_size : int
        Images per forward pass.

    Returns
    -------
    logits_per_exit : list of (N, K) tensors, on the CPU
    maps_per_exit : list of (N, h_k, w_k) tensors, on the CPU

    Examples
    --------
    >>> model = EarlyExitCNN(widths=(8, 16, 32), exits_after=(1,), branch_width=8)
    >>> logits, maps = saliency_at_exits(model, torch.rand(5, 3, 32, 32))
    >>> [tuple(m.shape) for m in maps]        # CAM on exit1.conv (8x8) and on block 3 (4x4)
    [(5, 8, 8), (5, 4, 4)]
    """
    _check_method(method)
    out = exit_outputs(model, x, (method,), batch_size)
    return out.logits, out.maps[method]


@torch.no_grad()
def _head_shapes(model: EarlyExitCNN, input_shape: Sequence[int]) -> list:
    """For every exit: ``((C_in, H, W), (C, h, w))``, what the head receives and its own feature map."""
    shapes = {}
    hooks = []
    for name, head in model.exits.items():

        def hook(module, args, output, name=name):
            shapes[name] = (tuple(args[0].shape[1:]), tuple(module.conv(args[0]).shape[1:]))

        hooks.append(head.register_forward_hook(hook))
    param = next(model.parameters())
    was_training = model.training
    model.eval()
    try:
        model(torch.zeros(1, *input_shape, device=param.device, dtype=param.dtype))
    finally:
        model.train(was_training)
        for h in hooks:
            h.remove()
    return [shapes[name] for name in model.exits]


def exit_map_sizes(model: EarlyExitCNN, input_shape: Sequence[int], method: str = "cam") -> list:
    """``(h, w)`` of every exit's map: the head's feature map for CAM, the features it
    receives for Grad-CAM, the input image for the gradient maps.

    Examples
    --------
    >>> model = EarlyExitCNN(widths=(8, 16), exits_after=(1,), branch_width=4)
    >>> exit_map_sizes(model, (3, 16, 16), "cam"), exit_map_sizes(model, (3, 16, 16), "grad_cam")
    ([(4, 4), (4, 4)], [(8, 8), (4, 4)])
    """
    _check_method(method)
    if method in INPUT_METHODS:
        return [tuple(input_shape[1:])] * model.num_exits
    return [(h, w) if method == "cam" else (H, W) for (_, H, W), (_, h, w) in _head_shapes(model, input_shape)]


def _head_backward_macs(head: Exit, c_in: int, H: int, W: int, c: int, h: int, w: int) -> int:
    """The backward pass through a head: the classifier row, the pooling, the head's conv."""
    conv_macs = 0 if isinstance(head.conv, nn.Identity) else sum(count_macs(head.conv, (c_in, H, W)).values())
    return c + c * h * w + conv_macs


def saliency_macs(
    model: EarlyExitCNN, input_shape: Sequence[int], method: str = "cam", smoothgrad_samples: int = SMOOTHGRAD_SAMPLES
) -> torch.Tensor:
    """MACs per image of one exit's map, for every exit: ``(num_exits,)`` float64.

    With ``C x h x w`` the head's feature map (after its conv) and ``C_in x H x W`` the
    features it receives:

    - ``"cam"``: ``C h w`` (one weighted sum over channels per position, for the one
      predicted class);
    - ``"grad_cam"``: the backward pass through the head - the classifier row (``C``),
      the average pooling (``C h w``), the head's conv (its forward MACs, 0 for the final
      head, which has none) - then the channel weights (``C_in H W`` to average the
      gradients) and the weighted sum (``C_in H W``);
    - ``"gradient"``: the backward pass through the head, then through every block before
      the exit down to the image (each convolution's input gradient costs its forward
      MACs; max-pooling and ReLU only route values); ``|g|`` and the maximum over
      channels are comparisons, free;
    - ``"smoothgrad"``: ``smoothgrad_samples`` times (a forward pass of the blocks and
      the head up to the exit, for a noisy copy, plus the gradient's backward pass), plus
      one accumulation per input value and copy.

    Examples
    --------
    >>> model = EarlyExitCNN(widths=(8, 16), exits_after=(1,), branch_width=4)
    >>> saliency_macs(model, (3, 16, 16))       # 4 x 4 x 4 on exit1.conv, 16 x 4 x 4 at the end
    tensor([ 64., 256.], dtype=torch.float64)
    """
    _check_method(method)
    parts = macs_by_part(model, input_shape)
    block_names = list(model.features._modules)
    costs = []
    for k, (head, ((c_in, H, W), (c, h, w))) in enumerate(zip(model.exits.values(), _head_shapes(model, input_shape))):
        if method == "cam":
            costs.append(c * h * w)
            continue
        backward_head = _head_backward_macs(head, c_in, H, W, c, h, w)
        if method == "grad_cam":
            costs.append(backward_head + 2 * c_in * H * W)
            continue
        blocks = block_names[: model.exit_blocks[k]]
        backward = backward_head + sum(parts[b] for b in blocks)  # every block conv's input gradient
        if method == "gradient":
            costs.append(backward)
            continue
        forward = sum(parts[b] for b in blocks) + parts[f"exit{k + 1}"]
        pixels = 1
        for d in input_shape:
            pixels *= int(d)
        costs.append(smoothgrad_samples * (forward + backward + pixels))
    return torch.tensor(costs, dtype=torch.float64)


# --- is the map about the exit's weights? ------------------------------------------------


def exit_path_layers(model: EarlyExitCNN, exit_index: int) -> list[tuple[str, nn.Module]]:
    """The convolution and linear layers an exit's logits depend on, from the output back
    to the input: the exit's classifier, its conv, then the convolution of every block
    before it, the last block first.

    Examples
    --------
    >>> model = EarlyExitCNN(widths=(8, 16, 32), exits_after=(1,), branch_width=4)
    >>> [name for name, _ in exit_path_layers(model, 0)]
    ['exits.exit1.classifier', 'exits.exit1.conv.0', 'features.block1.0']
    """
    k = exit_index % model.num_exits
    head = f"exits.exit{k + 1}"
    blocks = tuple(f"features.block{i}" for i in range(1, model.exit_blocks[k] + 1))
    layers = [
        (name, m)
        for name, m in model.named_modules()
        if isinstance(m, (nn.Conv2d, nn.Linear)) and (name.startswith(head + ".") or name.startswith(blocks))
    ]
    on_head = [layer for layer in layers if layer[0].startswith(head + ".")]
    on_blocks = [layer for layer in layers if not layer[0].startswith(head + ".")]
    return on_head[::-1] + on_blocks[::-1]


def exit_map_randomization(
    model: EarlyExitCNN,
    x: torch.Tensor,
    exit_index: int,
    method: str = "cam",
    similarity=None,
    seed: int = 0,
) -> torch.Tensor:
    """Cascading randomisation (Adebayo et al. 2018) of one exit's map.

    The layers of :func:`exit_path_layers` are re-initialised one after the other, from
    the exit's classifier down to the first block (each stays random as the next goes);
    after each step the exit's map of the **originally predicted** class is compared with
    the original map. A map that explains the network changes as its weights go; a map
    that stays the same shows the image, not the decision.

    Parameters
    ----------
    model : EarlyExitCNN
        Never modified (a copy is randomised).
    x : (B, C, H, W) tensor
    exit_index : int
        0-based exit.
    method : one of :data:`METHODS`
    similarity : callable ``(a, b) -> (B,)``, optional
        Default: the Spearman rank correlation of the two maps (ties ranked by their mean
        rank), :func:`xaiexit.saliency.sanity.spearman_rank_correlation`.
    seed : int
        Layer ``j`` (1 = the classifier) is re-initialised with ``seed + j``.

    Returns
    -------
    curve : (L + 1, B) float64 tensor
        Row 0 compares the original map with itself (1); row ``j`` after the top ``j``
        layers are random.

    Examples
    --------
    >>> model = EarlyExitCNN(widths=(8, 16, 32), exits_after=(1,), branch_width=4).eval()
    >>> exit_map_randomization(model, torch.rand(3, 3, 32, 32), 0, "grad_cam").shape
    torch.Size([4, 3])
    """
    from xaiexit.saliency.sanity import reinitialize, spearman_rank_correlation

    _check_method(method)
    k = exit_index % model.num_exits
    if similarity is None:
        similarity = spearman_rank_correlation
    original = copy.deepcopy(model).eval()
    target = exit_outputs(original, x, ("cam",)).logits[k].argmax(dim=1)

    def exit_map(net):
        return _map_of_class(net, x, k, method, target, seed)

    reference = exit_map(original)
    randomized = copy.deepcopy(model).eval()
    curve = [similarity(reference, reference)]
    for j, (_, layer) in enumerate(exit_path_layers(randomized, k), start=1):
        reinitialize(layer, seed + j)
        curve.append(similarity(reference, exit_map(randomized)))
    return torch.stack([c.double().cpu() for c in curve])


def _map_of_class(net: EarlyExitCNN, x: torch.Tensor, k: int, method: str, target: torch.Tensor, seed: int):
    """Exit ``k``'s map of class ``target`` (per sample), not of the class it now predicts."""
    from xaiexit.saliency.gradient import vanilla_gradient
    from xaiexit.saliency.smoothgrad import smoothgrad

    device = next(net.parameters()).device
    x, target = x.to(device), target.to(device)
    if method in INPUT_METHODS:
        single = SingleExit(net, k)
        if method == "gradient":
            return vanilla_gradient(single, x, target).amax(dim=1).cpu()
        generator = torch.Generator(device=device).manual_seed(seed)
        return smoothgrad(single, x, target, n=SMOOTHGRAD_SAMPLES, generator=generator).amax(dim=1).cpu()
    with torch.no_grad():
        h = x
        for block in list(net.features)[: net.exit_blocks[k]]:
            h = block(h)
    head = list(net.exits.values())[k]
    with torch.enable_grad():
        f = h.detach().requires_grad_(method == "grad_cam")
        A, logits = _cam_and_logits(head, f)
        if method == "cam":
            weights = head.classifier.weight[target]
            return torch.einsum("bc,bchw->bhw", weights, A.detach()).clamp(min=0).cpu()
        (grad,) = torch.autograd.grad(logits.gather(1, target[:, None]).sum(), f)
    return (grad.mean(dim=(2, 3), keepdim=True) * f.detach()).sum(dim=1).clamp(min=0).cpu()


# --- what a map costs in time -------------------------------------------------------------


def exit_map_seconds(
    model: EarlyExitCNN,
    x: torch.Tensor,
    methods: Sequence[str] = METHODS,
    repeats: int = 3,
    batch_size: int = 64,
    smoothgrad_samples: int = SMOOTHGRAD_SAMPLES,
    exits: Sequence[int] | None = None,
) -> dict:
    """Measured seconds per image of each exit's map, beyond the forward pass.

    On a copy with batch norm folded and channels-last memory
    (:func:`~xaiexit.models.for_cpu_inference`), in batches of ``batch_size``: the time of
    a forward pass (every block and head) that also computes one exit's map, minus that of
    the same forward pass without it (timed alternately, median over ``repeats``). Only
    measured, never asserted: a busy machine changes it.

    Parameters
    ----------
    exits : sequence of int, optional
        The exits to time (default all); the others get ``nan``.

    Returns
    -------
    dict
        ``"forward"``: seconds per image of the forward pass with every head;
        ``method -> (num_exits,)`` float64 tensor of seconds per image for that exit's map.
    """
    for m in methods:
        _check_method(m)
    net = for_cpu_inference(model)
    for p in net.parameters():
        p.requires_grad_(False)
    xs = x.detach().contiguous(memory_format=torch.channels_last)
    batches = [xs[s : s + batch_size] for s in range(0, len(xs), batch_size)]

    def forward_only():  # the same loop over the blocks and heads, without a map
        for b in batches:
            exit_outputs_batch(net, b, None, -1, smoothgrad_samples)

    def with_map(method, k):
        def run():
            for b in batches:
                exit_outputs_batch(net, b, method, k, smoothgrad_samples)

        return run

    timed = range(net.num_exits) if exits is None else [int(k) % net.num_exits for k in exits]
    runs = {"forward": forward_only}
    for m in methods:
        for k in timed:
            runs[(m, k)] = with_map(m, k)
    seconds = {name: [] for name in runs}
    for run in runs.values():  # warm-up
        run()
    for _ in range(repeats):
        for name, run in runs.items():
            started = time.perf_counter()
            run()
            seconds[name].append(time.perf_counter() - started)
    n = len(xs)
    median = {name: sorted(v)[len(v) // 2] for name, v in seconds.items()}
    out = {"forward": median["forward"] / n}
    for m in methods:
        out[m] = torch.tensor(
            [(median[(m, k)] - median["forward"]) / n if k in timed else math.nan for k in range(net.num_exits)],
            dtype=torch.float64,
        )
    return out


def exit_outputs_batch(net: EarlyExitCNN, x: torch.Tensor, method: str | None, k: int, smoothgrad_samples: int):
    """One forward pass of ``net`` (every head) that also computes exit ``k``'s map (none
    when ``method`` is None): the unit :func:`exit_map_seconds` times."""
    heads = list(net.exits.values())
    on_input = method == "gradient"
    leaf = x.detach().clone().requires_grad_(on_input)
    with torch.set_grad_enabled(on_input):
        h, j = leaf, 0
        for i, block in enumerate(net.features, start=1):
            with torch.set_grad_enabled(on_input and i <= net.exit_blocks[k % net.num_exits]):  # a graph up to the exit
                h = block(h)
            if i not in net.exit_blocks:
                continue
            if method is None or j != k % net.num_exits:
                with torch.no_grad():
                    heads[j](h)
            else:
                f = h if method == "gradient" else h.detach().requires_grad_(method == "grad_cam")
                with torch.set_grad_enabled(f.requires_grad):
                    A, logits = _cam_and_logits(heads[j], f)
                    predicted = logits.argmax(dim=1)
                    chosen = logits.gather(1, predicted[:, None]).sum()
                if method == "cam":
                    torch.einsum("bc,bchw->bhw", heads[j].classifier.weight[predicted], A.detach()).clamp(min=0)
                elif method == "grad_cam":
                    (grad,) = torch.autograd.grad(chosen, f)
                    (grad.mean(dim=(2, 3), keepdim=True) * f.detach()).sum(dim=1).clamp(min=0)
                elif method == "gradient":
                    (grad,) = torch.autograd.grad(chosen, leaf, retain_graph=True)
                    grad.abs().amax(dim=1)
                else:
                    _smoothgrad_map(net, j, x, predicted, smoothgrad_samples, SMOOTHGRAD_NOISE, None)
            j += 1
