"""What comes back from the grading kernel: plain data, read strictly.

A reply of the kernel (:mod:`xaiexit_grading.worker`) is a JSON file and a NumPy archive,
opened without following links and loaded with ``allow_pickle=False``, within size limits.
:class:`Reply` rebuilds the learner's return value from them as plain tensors, NumPy
values and Python scalars and containers; anything else becomes a placeholder that only
has its type's name, so an object whose ``==`` always says yes cannot cross. It also copies
what a call did to its arguments (modes, values, gradients, forward-hook records) onto the
grader's own. Anything malformed is a :class:`RemoteFailure`, never a guess.
"""

from __future__ import annotations

import builtins
import copy
import keyword
import os
import stat

import numpy as np
import torch

from xaiexit_grading._checks import GradingError, Recorder

MAX_JSON_BYTES = 16 * 2**20
MAX_ARRAY_BYTES = 256 * 2**20

_DTYPES = {
    name: getattr(torch, name)
    for name in (
        "bool",
        "uint8",
        "int8",
        "int16",
        "int32",
        "int64",
        "float16",
        "bfloat16",
        "float32",
        "float64",
        "complex64",
        "complex128",
    )
}
_NUMPY_KINDS = "biufc"


class LearnerError(Exception):
    """The learner's function raised; ``type_name``, ``message`` and ``where`` describe it.

    Raised as an instance of a class named like the learner's exception (a subclass of the
    builtin one when there is one, so ``except ValueError`` in a check still works)."""

    type_name = "Exception"

    def __init__(self, message: str, where: str = ""):
        super().__init__(message)
        self.message, self.where = message, where


def learner_error(type_name: str, message: str, where: str) -> LearnerError:
    name = type_name if type_name.isidentifier() and not keyword.iskeyword(type_name) else "Exception"
    base = getattr(builtins, name, None)
    bases = (LearnerError,)
    if isinstance(base, type) and issubclass(base, Exception) and base is not Exception:
        bases = (LearnerError, base)
    cls = type(name, bases, {"type_name": name})
    return cls(message, where)


class RemoteFailure(GradingError):
    """The call could not be completed (timeout, a reply too large or unreadable)."""


def _placeholder(type_name: str):
    """An object standing for a return value that cannot cross: only its type's name."""
    name = type_name if type_name.isidentifier() else "object"
    return type(name[:60], (), {"__repr__": lambda self: f"<{name} returned by the learner>"})()


class Reply:
    """Decodes one reply strictly: anything malformed is a :class:`RemoteFailure`."""

    def __init__(self, name: str, data: dict, arrays, modules: tuple | None = None):
        self.name, self.data, self.arrays = name, data, arrays
        self.modules = modules  # a callback's arguments may name the call's models
        self.nodes = 0

    def fail(self, why: str):
        raise RemoteFailure(f"{self.name} returned something the hidden tests cannot read ({why})")

    def array(self, key) -> np.ndarray:
        if not isinstance(key, str) or key not in self.arrays.files:
            self.fail("a missing array")
        arr = self.arrays[key]
        if arr.dtype.kind not in _NUMPY_KINDS:
            self.fail(f"an array of {arr.dtype}")
        return arr

    def tensor(self, node: dict) -> torch.Tensor:
        dtype = _DTYPES.get(node.get("dtype"))
        if dtype is None:
            self.fail(f"a tensor of dtype {node.get('dtype')!r}")
        t = torch.from_numpy(np.array(self.array(node["tensor"]), copy=True)).to(dtype)
        if node.get("subclass"):  # a subclass of torch.Tensor, with none of its own methods
            t = torch.Tensor._make_subclass(type(str(node["subclass"])[:60] or "Tensor", (torch.Tensor,), {}), t)
        if node.get("requires_grad") is True and (t.is_floating_point() or t.is_complex()):
            t.requires_grad_(True)
        return t

    def value(self, node, depth: int = 0):
        self.nodes += 1
        if depth > 25 or self.nodes > 200_000:
            self.fail("a structure too deep or too large")
        if node is None or type(node) in (bool, int, float, str):
            return node
        if type(node) is not dict or len(node) == 0:
            self.fail("an unknown value")
        if "tensor" in node:
            return self.tensor(node)
        if "module" in node and self.modules is not None:
            index = node["module"]
            if type(index) is not int or not 0 <= index < len(self.modules):
                self.fail("a model that is not one of the call's")
            try:
                model = copy.deepcopy(self.modules[index]).get_submodule(str(node.get("path", "")))
            except AttributeError:
                self.fail("a part of a model that it does not have")
            self.apply_module(model, node.get("state") or {})
            return model
        if "ndarray" in node:
            return np.array(self.array(node["ndarray"]), copy=True)
        if "numpy" in node:
            kind = np.dtype(str(node["numpy"])) if str(node["numpy"]) in np.sctypeDict else None
            if kind is None or kind.kind not in _NUMPY_KINDS:
                self.fail(f"a NumPy scalar of {node['numpy']!r}")
            return kind.type(node["value"])
        for tag, kind in (("list", list), ("tuple", tuple)):
            if tag in node and type(node[tag]) is list:
                return kind(self.value(v, depth + 1) for v in node[tag])
        if "dict" in node and type(node["dict"]) is list:
            out = {}
            for pair in node["dict"]:
                if type(pair) is not list or len(pair) != 2:
                    self.fail("a malformed dict")
                key = self.value(pair[0], depth + 1)
                if type(key) not in (str, int, float, bool, tuple) and key is not None:
                    key = repr(key)
                out[key] = self.value(pair[1], depth + 1)
            return out
        if "other" in node:
            return _placeholder(str(node["other"]))
        self.fail("an unknown value")

    # --- the arguments after the call ---------------------------------------------------

    def apply(self, target, state) -> None:
        """Copy ``state`` (what the learner's call left in an argument) onto ``target``."""
        if state is None or type(state) is not dict:
            return
        if "tensor" in state and isinstance(target, torch.Tensor):
            self.apply_tensor(target, state["tensor"])
        elif "module" in state and isinstance(target, torch.nn.Module):
            self.apply_module(target, state["module"])
        elif "generator" in state and isinstance(target, torch.Generator):
            target.set_state(self.value(state["generator"]).to(torch.uint8))
        elif "items" in state and type(target) in (list, tuple) and type(state["items"]) is list:
            for t, s in zip(target, state["items"]):
                self.apply(t, s)

    def apply_tensor(self, target: torch.Tensor, state: dict) -> None:
        value = self.value(state.get("value"))
        if not isinstance(value, torch.Tensor):
            return
        with torch.no_grad():
            if value.shape == target.shape and value.dtype == target.dtype:
                target.copy_(value)
            else:
                target.data = value.detach()
        if target.is_leaf and (target.is_floating_point() or target.is_complex()):
            target.requires_grad_(state.get("requires_grad") is True)
        grad = self.value(state.get("grad")) if state.get("grad") is not None else None
        if not target.is_leaf:
            return
        if grad is None:
            target.grad = None
        elif isinstance(grad, torch.Tensor) and grad.shape == target.shape and grad.dtype == target.dtype:
            target.grad = grad.detach()
        else:  # a gradient the tensor could not hold is still a gradient left behind
            target.grad = torch.ones_like(target)

    def apply_module(self, module: torch.nn.Module, state: dict) -> None:
        modes = state.get("training", {})
        for name, sub in module.named_modules():
            if type(modes.get(name)) is bool:
                sub.training = modes[name]
        params = state.get("params", {})
        for name, p in module.named_parameters():
            if type(params.get(name)) is dict:
                self.apply_tensor(p, params[name])
        buffers = state.get("buffers", {})
        for name, b in module.named_buffers():
            value = self.value(buffers.get(name)) if name in buffers else None
            if isinstance(value, torch.Tensor) and value.shape == b.shape:
                b.copy_(value.to(b.dtype))
        for name, sub in module.named_modules():
            records = state.get("probes", {}).get(name)
            if type(records) is not list:
                continue
            for hook in sub._forward_pre_hooks.values():
                if isinstance(hook, Recorder):
                    hook.extend(records)


def too_large(json_file, npz_file) -> bool:
    """Whether a reply (or a callback's arguments) weighs more than the grader reads."""
    size = os.fstat
    return size(json_file.fileno()).st_size > MAX_JSON_BYTES or size(npz_file.fileno()).st_size > MAX_ARRAY_BYTES


def open_reply(path: str):
    """Open a reply file for reading, never through a link (the kernel writes that folder)."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(f"{path} is not a plain file")
    return os.fdopen(fd, "rb")
