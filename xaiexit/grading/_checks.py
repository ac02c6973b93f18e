"""Machinery shared by every lesson's hidden tests.

A hidden test calls the learner's function on fresh inputs, compares the result with
the ``xaiexit`` reference and, when they differ, names the mistake. Three rules keep a
grade honest:

- the learner's result must be a plain ``torch.Tensor`` (an object whose ``==`` always
  says yes, or a tensor subclass that overrides comparisons, is rejected);
- comparisons use torch's own C functions, and :func:`assert_untampered` fails when a
  notebook has replaced one of them (or a builtin such as ``abs``) with Python code;
- a failure raises :class:`GradingError` with a message for the learner; it never
  shows the test's code.
"""
from __future__ import annotations

import builtins
import contextlib
import os
import traceback
import types

import torch

# The real `type`, taken from a class attribute rather than the (replaceable) builtins.
_type = types.FunctionType.__class__
_BUILTIN = types.BuiltinFunctionType

# Everything the checks rely on. A notebook that swaps one of them for its own code
# could make any answer look right.
_BUILTINS = ("abs", "all", "any", "callable", "getattr", "hasattr", "isinstance", "len", "max",
             "min", "repr", "round", "sorted", "sum")
_TORCH_FUNCTIONS = ("abs", "allclose", "amax", "amin", "as_tensor", "equal", "isclose",
                    "isfinite", "max", "rand", "randn", "sub", "sum", "where", "zeros")
_TENSOR_METHODS = ("__float__", "__eq__", "__sub__", "abs", "amax", "clone", "cpu", "detach",
                   "dim", "double", "item", "max", "sum", "tolist")


class GradingError(AssertionError):
    """A hidden test failed. The message explains why, for the learner."""


def assert_untampered() -> None:
    """Fail when a builtin or a torch function the checks use was replaced by Python code.

    Raises
    ------
    GradingError
        Naming what was replaced, e.g. ``builtins.abs`` or ``torch.allclose``.
    """
    replaced = [f"builtins.{name}" for name in _BUILTINS if _type(builtins.__dict__.get(name)) is not _BUILTIN]
    # Classes: the real ones are reachable from literals, which no notebook can redefine.
    for name, real in (("type", _type), ("float", (0.5).__class__), ("int", (1).__class__), ("bool", True.__class__)):
        if builtins.__dict__.get(name) is not real:
            replaced.append(f"builtins.{name}")
    replaced += [f"torch.{name}" for name in _TORCH_FUNCTIONS if _type(getattr(torch, name, None)) is not _BUILTIN]
    for name in _TENSOR_METHODS:
        # torch.Tensor's own methods are C code or Python code from torch/_tensor.py;
        # anything else found in its namespace was put there by the notebook.
        attr = torch.Tensor.__dict__.get(name)
        if _type(attr) is types.FunctionType and getattr(attr, "__module__", "") != "torch._tensor":
            replaced.append(f"torch.Tensor.{name}")
    if replaced:
        raise GradingError(
            "this notebook replaced " + ", ".join(replaced) + " with its own code, so its "
            "results cannot be checked. Remove the cell that does it and run the notebook again."
        )


def learner_frames(exc: BaseException) -> list[traceback.FrameSummary]:
    """The traceback frames that come from the learner's own cells."""
    here = os.path.dirname(os.path.abspath(__file__))
    package = os.path.dirname(here)
    frames = []
    for frame in traceback.extract_tb(exc.__traceback__):
        path = os.path.abspath(frame.filename)
        if path.startswith(package) or "site-packages" in path or "/lib/python" in path:
            continue
        frames.append(frame)
    return frames


def call(fn, name: str, *args, **kwargs):
    """Call the learner's function; turn any exception into a :class:`GradingError`.

    The message keeps the exception and the learner's own line where it happened, and
    drops everything from the grading code.
    """
    if not callable(fn):
        raise GradingError(f"{name} must be a function, got {_type(fn).__name__}")
    try:
        return fn(*args, **kwargs)
    except NotImplementedError:
        raise GradingError(f"{name} is not implemented yet (it still raises NotImplementedError)") from None
    except (Exception, SystemExit) as exc:  # noqa: B902 - any failure of learner code is graded
        where = ""
        frames = learner_frames(exc)
        if frames:
            last = frames[-1]
            where = f" (in {last.name}, line {last.lineno}: {(last.line or '').strip()})"
        raise GradingError(f"{name} raised {_type(exc).__name__}: {exc}{where}") from None


def expect_tensor(out, name: str, shape: tuple, like: torch.Tensor | None = None) -> torch.Tensor:
    """Check that ``out`` is a plain, finite tensor of the given shape."""
    if _type(out) is not torch.Tensor:
        what = _type(out).__name__
        extra = " (a subclass of torch.Tensor is not accepted)" if isinstance(out, torch.Tensor) else ""
        raise GradingError(f"{name} must return a torch.Tensor, got {what}{extra}")
    if tuple(out.shape) != tuple(shape):
        raise GradingError(f"{name} returned shape {tuple(out.shape)}; expected {tuple(shape)}")
    if not out.is_floating_point():
        raise GradingError(f"{name} must return floating-point values, got dtype {out.dtype}")
    if not bool(torch.all(torch.isfinite(out.detach()))):
        raise GradingError(f"{name} returned NaN or infinite values")
    if like is not None and out.device != like.device:
        raise GradingError(f"{name} returned a tensor on {out.device}; keep it on the input's device ({like.device})")
    return out.detach()


def max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    """Largest absolute difference, computed in float64."""
    a, b = a.detach().double().cpu(), b.detach().double().cpu()
    if a.shape != b.shape:
        return float("inf")
    if a.numel() == 0:
        return 0.0
    return float(torch.max(torch.abs(torch.sub(a, b))))


def close(a: torch.Tensor, b: torch.Tensor, rtol: float = 1e-4, atol: float = 1e-6) -> bool:
    """``a`` equals ``b`` up to float32 rounding: ``max|a - b| <= atol + rtol * max|b|``."""
    scale = float(torch.max(torch.abs(b.detach().double()))) if b.numel() else 0.0
    return max_diff(a, b) <= atol + rtol * scale


@contextlib.contextmanager
def seeded(seed: int):
    """Run a block with torch's global generator seeded, then restore its state.

    Hidden tests draw their inputs here, so they neither depend on nor disturb the
    randomness of the learner's notebook.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield torch.Generator().manual_seed(seed)
