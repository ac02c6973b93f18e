"""Machinery shared by every lesson's hidden tests.

A hidden test calls the learner's function on fresh inputs, compares the result with
the ``xaiexit`` reference and, when they differ, names the mistake. While a class is graded
the check runs in the grader and the learner's function in the kernel
(:mod:`xaiexit_grading.remote`), so the learner's code cannot reach the rules below; they
still hold when a check is called directly (in JupyterLab, in the tests):

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
import copy
import math
import os
import traceback
import types

import torch

import xaiexit

# The real `type`, taken from a class attribute rather than the (replaceable) builtins.
_type = types.FunctionType.__class__
_BUILTIN = types.BuiltinFunctionType

# Everything the checks rely on. A notebook that swaps one of them for its own code
# could make any answer look right.
_BUILTINS = (
    "abs",
    "all",
    "any",
    "callable",
    "getattr",
    "hasattr",
    "isinstance",
    "len",
    "max",
    "min",
    "repr",
    "round",
    "sorted",
    "sum",
)
_TORCH_FUNCTIONS = (
    "abs",
    "allclose",
    "amax",
    "amin",
    "as_tensor",
    "equal",
    "isclose",
    "isfinite",
    "max",
    "rand",
    "randn",
    "sub",
    "sum",
    "where",
    "zeros",
)
_TENSOR_METHODS = (
    "__float__",
    "__eq__",
    "__sub__",
    "abs",
    "amax",
    "clone",
    "cpu",
    "detach",
    "dim",
    "double",
    "item",
    "max",
    "sum",
    "tolist",
)


#: the real int and float classes (the builtins' names could be rebound by a notebook)
INT, FLOAT = (1).__class__, (0.5).__class__


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
    ours = (os.path.dirname(os.path.abspath(__file__)), os.path.dirname(os.path.abspath(xaiexit.__file__)))
    frames = []
    for frame in traceback.extract_tb(exc.__traceback__):
        path = os.path.abspath(frame.filename)
        if path.startswith(ours) or "site-packages" in path or "/lib/python" in path:
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
    except GradingError:  # a remote call that could not be completed says why itself
        raise
    except NotImplementedError:
        raise GradingError(f"{name} is not implemented yet (it still raises NotImplementedError)") from None
    except (Exception, SystemExit) as exc:  # noqa: B902 - any failure of learner code is graded
        if hasattr(exc, "type_name"):  # raised in the grading kernel (xaiexit_grading.remote)
            if exc.type_name == "NotImplementedError":
                raise GradingError(f"{name} is not implemented yet (it still raises NotImplementedError)") from None
            raise GradingError(f"{name} raised {exc.type_name}: {exc.message}{exc.where}") from None
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


@contextlib.contextmanager
def reference_helpers(fn, **references):
    """Swap the learner's own helpers (e.g. their ``vanilla_gradient``) for the reference
    while ``fn`` is tested, so one mistake is not counted in two exercises."""
    if hasattr(fn, "using_references"):  # the learner's function runs in the grading kernel
        with fn.using_references(references):
            yield
        return
    namespace = getattr(fn, "__globals__", None)
    saved = {}
    if isinstance(namespace, dict):
        for name, reference in references.items():
            if name in namespace:
                saved[name] = namespace[name]
                namespace[name] = reference
    try:
        yield
    finally:
        if saved:
            namespace.update(saved)


class Recorder(list):
    """A forward pre-hook that records, for every call of its module, ``(input shape,
    module.training, grad enabled)``. It also records calls made in the grading kernel
    (:mod:`xaiexit_grading.remote` hooks the kernel's copy of the module and copies the
    records back)."""

    def __call__(self, module: torch.nn.Module, inputs: tuple) -> None:
        shape = list(inputs[0].shape) if inputs and isinstance(inputs[0], torch.Tensor) else []
        self.append([shape, module.training, torch.is_grad_enabled()])


#: The rules every model-based exercise follows, each named by a catalogued mistake.
HYGIENE_RULES = ("train_mode", "grads_left", "modifies_input")


def number(out, name: str, kind: str = "a float") -> float:
    """The learner's scalar answer as a float: a Python float or int, a NumPy scalar or a
    one-element plain tensor. Anything else (a subclass that fakes comparisons, say) is
    rejected."""
    if _type(out) in (FLOAT, INT):
        return FLOAT(out)
    if _type(out) is torch.Tensor and out.numel() == 1:
        return FLOAT(out.detach().double().cpu().item())
    if getattr(_type(out), "__module__", "") == "numpy" and _type(out).__name__.startswith(("float", "int")):
        return FLOAT(out.item())
    raise GradingError(f"{name} must return {kind}, got {_type(out).__name__}")


def finite(value: float) -> bool:
    """Neither NaN nor infinite."""
    return value == value and abs(value) != math.inf


def same_number(value: float, expected: float) -> bool:
    """Equal up to float32 rounding; NaN equals NaN, an infinity only itself."""
    if value != value or expected != expected:
        return value != value and expected != expected
    if not (finite(value) and finite(expected)):
        return value == expected
    return abs(value - expected) <= 1e-6 * max(1.0, abs(expected))


def show_number(value: float) -> str:
    """A number for a message: 6 significant digits, or ``nan`` / ``inf`` as they are."""
    return f"{value:.6g}" if finite(value) else repr(value)


def unchanged(name: str, args: tuple, given: tuple) -> None:
    """Fail when the learner changed an input tensor (or a list of them) in place."""
    for a, g in zip(args, given):
        pairs = zip(a, g) if isinstance(a, (list, tuple)) else [(a, g)]
        for u, v in pairs:
            if isinstance(u, torch.Tensor) and not torch.equal(u.detach(), v.detach()):
                raise GradingError(f"{name} changes its input in place: compute on a copy")


class Grader:
    """What the checks of one lesson share.

    mistakes : the lesson's ``<lesson>_mistakes`` module; :meth:`diagnose` names the
        catalogued mistake whose output equals the learner's.
    seed : the seed of the lesson's hidden inputs; catalogued mistakes run with ``seed + 1``.
    hygiene : ``(mistakes module, exercise)`` whose catalogued mistakes ``train_mode``,
        ``grads_left`` and ``modifies_input`` give the hygiene messages of every
        model-based exercise of the lesson.
    """

    def __init__(self, mistakes: types.ModuleType, seed: int, hygiene: tuple):
        self.mistakes, self.seed = mistakes, seed
        module, exercise = hygiene
        self.hygiene = {rule: module.message(exercise, rule) for rule in HYGIENE_RULES}

    @staticmethod
    def snapshot(model: torch.nn.Module, x: torch.Tensor) -> dict:
        """What :meth:`check_hygiene` compares with after the learner's call."""
        return {
            "buffers": [b.detach().clone() for b in model.buffers()],
            "flags": [p.requires_grad for p in model.parameters()],
            "x": x.detach().clone(),
        }

    def check_hygiene(self, name: str, model: torch.nn.Module, x: torch.Tensor, before: dict) -> None:
        """Eval mode (BatchNorm statistics unchanged), no ``.grad`` left in the model, its
        ``requires_grad`` flags restored, ``x`` unchanged."""
        if any(not torch.equal(a, b) for a, b in zip(before["buffers"], model.buffers())):
            raise GradingError(f"{name} {self.hygiene['train_mode']}")
        if any(p.grad is not None and bool(p.grad.detach().abs().sum() > 0) for p in model.parameters()):
            raise GradingError(f"{name} {self.hygiene['grads_left']}")
        if [p.requires_grad for p in model.parameters()] != before["flags"]:
            raise GradingError(
                f"{name} leaves the model's parameters with requires_grad changed: restore the "
                "flags (or use torch.autograd.grad(score, x), which needs no freezing)"
            )
        if x.requires_grad or x.grad is not None or not torch.equal(x.detach(), before["x"]):
            raise GradingError(f"{name} {self.hygiene['modifies_input']}")

    def name_mistake(self, name: str, exercise: str, args: tuple, same) -> None:
        """Raise the message of the first catalogued mistake whose output on ``args`` is
        ``same`` as the learner's (``same(wrong) -> bool``); return when none is."""
        for m in self.mistakes.of(exercise):
            if not m.matches_output:
                continue
            try:
                with seeded(self.seed + 1):
                    wrong = m.function(*[copy.deepcopy(a) for a in args])
                found = bool(same(wrong))
            except Exception:  # noqa: BLE001 - a mistake that fails on these inputs is not this one
                continue
            if found:
                raise GradingError(f"{name} {m.message}")

    def diagnose(self, name: str, exercise: str, out: torch.Tensor, expected: torch.Tensor, args: tuple, case: str):
        """Raise the message of the catalogued mistake whose output ``out`` equals, if any,
        otherwise a message with the size of the difference."""
        self.name_mistake(
            name,
            exercise,
            args,
            lambda wrong: isinstance(wrong, torch.Tensor) and wrong.shape == out.shape and close(out, wrong),
        )
        scale = float(torch.max(torch.abs(expected.double()))) if expected.numel() else 0.0
        raise GradingError(
            f"{name} gives a wrong result {case}: it differs from the correct one by up to "
            f"{max_diff(out, expected):.3g} (correct values reach {scale:.3g})"
        )

    def compare_output(
        self,
        name: str,
        out,
        expected: torch.Tensor,
        args: tuple,
        case: str,
        as_tensor=expect_tensor,
        exercise: str | None = None,
    ) -> torch.Tensor:
        """Compare the output ``out`` of ``name`` on ``args`` with ``expected``, naming the
        catalogued mistake of ``exercise`` (default: ``name``) whose output it equals (also
        when its shape is another one); return it as a tensor. ``as_tensor(out, name,
        shape)`` checks the output's type."""
        exercise = exercise or name
        if _type(out) is torch.Tensor and out.is_floating_point() and tuple(out.shape) != tuple(expected.shape):
            self.name_mistake(
                name,
                exercise,
                args,
                lambda wrong: _type(wrong) is torch.Tensor and wrong.shape == out.shape and close(out, wrong),
            )
        out = as_tensor(out, name, expected.shape)
        if not close(out, expected):
            self.diagnose(name, exercise, out, expected, args, case)
        return out

    def compare(
        self, name: str, exercise: str, fn, args: tuple, expected: torch.Tensor, case: str, accept=close, screen=None
    ) -> torch.Tensor:
        """Call ``fn(model, x, *rest)`` on copies of ``args``, check hygiene and compare
        with ``expected``.

        accept : ``accept(out, expected)`` says whether they agree (default :func:`close`).
        screen : ``screen(out)`` sees the raw output first and may raise the message of a
            mistake recognised from it (NaN where no value should be, say).
        """
        model, x = copy.deepcopy(args[0]), args[1].clone()
        before = self.snapshot(model, x)
        out = call(fn, name, model, x, *[copy.deepcopy(a) for a in args[2:]])
        if screen is not None:
            screen(out)
        out = expect_tensor(out, name, expected.shape, like=x)
        self.check_hygiene(name, model, x, before)
        if not accept(out, expected):
            self.diagnose(name, exercise, out, expected, args, case)
        return out
