"""The learner's side of a remote call: runs inside the (sandboxed) grading kernel.

The trusted grader (:mod:`xaiexit_grading.remote`) sends this file's source to the kernel
and then, for every call a hidden test makes, writes ``<n>.in.pt`` (the function's name,
its arguments, the random state, reference helpers, probes) and runs
``__xaiexit__["serve"](exchange, n, globals(), models)``. :func:`serve` calls the learner's function
and writes what happened to ``<n>.out.json`` and ``<n>.out.npz``: the return value (or the
exception), the random state afterwards, and the state of every argument afterwards (a
model's modes, parameters, gradients and buffers; a tensor's values, flag and gradient).

References of the lesson's exercises never come here: where the request holds one (a
helper the check swaps in, a function passed as an argument) it arrives as a
:class:`_Callback`, which asks the grader for the reference's value
(``<n>.cb<m>.json``/``.npz`` out, ``<n>.cb<m>.result.pt`` back). During the call the
package's stand-ins (:mod:`xaiexit_grading.stand_in`) are served the same way.

Only plain data comes back (JSON and NumPy arrays, read with ``allow_pickle=False``).
Nothing here is trusted: the learner's code can replace any of it, and all it can change is
what its own function is reported to return.

Self-contained on purpose: it imports only the standard library, NumPy and torch, since
the grading package itself is out of the kernel's reach.
"""

import importlib
import importlib.util
import json
import os
import pickle
import time
import traceback

import numpy as np
import torch

# dtypes NumPy cannot hold travel as the nearest one it can, and are cast back
_WIDER = {torch.bfloat16: torch.float32, torch.complex32: torch.complex64}


class _Arrays:
    """The arrays of one reply, named a0, a1, ..."""

    def __init__(self):
        self.arrays = {}

    def tensor(self, t):
        t = t.detach().cpu()
        dtype = str(t.dtype).removeprefix("torch.")
        if t.dtype in _WIDER:
            t = t.to(_WIDER[t.dtype])
        key = f"a{len(self.arrays)}"
        self.arrays[key] = t.contiguous().resolve_conj().resolve_neg().numpy()
        return {"tensor": key, "dtype": dtype}


def _encode(value, arrays, depth=0, modules=None):
    """A JSON node for ``value``: scalars as themselves, everything else tagged. With
    ``modules`` (the call's arguments), a model travels as the argument it came from, with
    its state."""
    if depth > 20:
        return {"other": "a structure nested too deeply"}
    if modules is not None and isinstance(value, torch.nn.Module):
        return _model_of_call(value, arrays, modules)
    if value is None or isinstance(value, (bool, int, float, str)) and type(value) in (bool, int, float, str):
        return value
    if isinstance(value, torch.Tensor):
        if type(value) is not torch.Tensor:  # its values, without the subclass's own methods
            with torch._C.DisableTorchFunctionSubclass():
                node = _encode(value.as_subclass(torch.Tensor), arrays, depth + 1)
            if type(node) is dict and "tensor" in node:
                node["subclass"] = type(value).__name__
            return node
        if value.layout != torch.strided or value.is_quantized or value.dtype not in _DTYPES:
            return {"other": f"a {value.layout} tensor of {value.dtype}"}
        node = arrays.tensor(value)
        node["requires_grad"] = bool(value.requires_grad)
        return node
    if type(value) is np.ndarray and value.dtype.kind in "biufc":
        key = f"a{len(arrays.arrays)}"
        arrays.arrays[key] = np.ascontiguousarray(value)
        return {"ndarray": key}
    if isinstance(value, np.generic) and value.dtype.kind in "biufc":
        return {"numpy": value.dtype.name, "value": value.item() if value.dtype.kind != "c" else str(value)}
    if type(value) in (list, tuple):
        return {type(value).__name__: [_encode(v, arrays, depth + 1, modules) for v in value]}
    if type(value) is torch.Size:
        return {"tuple": [int(v) for v in value]}
    if type(value) is dict:
        items = value.items()
        return {"dict": [[_encode(k, arrays, depth + 1), _encode(v, arrays, depth + 1, modules)] for k, v in items]}
    return {"other": type(value).__name__}


_DTYPES = {
    torch.bool,
    torch.uint8,
    torch.int8,
    torch.int16,
    torch.int32,
    torch.int64,
    torch.float16,
    torch.bfloat16,
    torch.float32,
    torch.float64,
    torch.complex64,
    torch.complex128,
}


def _model_of_call(model, arrays, given):
    """A model as one of the call's arguments (or a part of one) with its state; a copy of
    an argument counts as that argument."""
    for i, arg in enumerate(given):
        if isinstance(arg, torch.nn.Module):
            for path, part in arg.named_modules():
                if part is model:
                    return {"module": i, "path": path, "state": _module_state(model, arrays, {})}
    for i, arg in enumerate(given):
        if type(arg) is type(model):
            return {"module": i, "path": "", "state": _module_state(model, arrays, {})}
    return {"other": type(model).__name__}


def _tensor_state(t, arrays):
    grad = t.grad if t.is_leaf else None
    return {
        "value": _encode(t.detach(), arrays),
        "requires_grad": bool(t.requires_grad),
        "grad": None if grad is None else _encode(grad, arrays),
    }


def _module_state(module, arrays, probes):
    return {
        "training": {name: bool(m.training) for name, m in module.named_modules()},
        "params": {name: _tensor_state(p, arrays) for name, p in module.named_parameters()},
        "buffers": {name: _encode(b, arrays) for name, b in module.named_buffers()},
        "probes": probes,
    }


def _state(value, arrays, probes=None):
    """What the trusted side copies back onto its own argument after the call."""
    if isinstance(value, torch.nn.Module):
        return {"module": _module_state(value, arrays, probes or {})}
    if isinstance(value, torch.Tensor):
        return {"tensor": _tensor_state(value, arrays)}
    if isinstance(value, torch.Generator):
        return {"generator": _encode(value.get_state(), arrays)}
    if type(value) in (list, tuple):
        return {"items": [_state(v, arrays) for v in value]}
    return None


def _watch(module, names):
    """Forward pre-hooks on the named submodules: (input shape, training, grad enabled)."""
    records, handles = {}, []
    for name, sub in module.named_modules():
        if name in names:
            records[name] = []

            def hook(m, inputs, seen=records[name]):
                shape = list(inputs[0].shape) if inputs and isinstance(inputs[0], torch.Tensor) else []
                seen.append([shape, bool(m.training), bool(torch.is_grad_enabled())])

            handles.append(sub.register_forward_pre_hook(hook))
    return records, handles


def _where(exc):
    """The learner's line where ``exc`` was raised, as the hidden tests show it."""
    ours = ("site-packages", "/lib/python", "<xaiexit-worker>", os.sep + "xaiexit" + os.sep)
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not any(s in f.filename for s in ours)]
    if not frames:
        return ""
    last = frames[-1]
    return f" (in {last.name}, line {last.lineno}: {(last.line or '').strip()})"


def _write(base, node, arrays):
    """``base.npz`` then ``base.json``, each complete before it appears."""
    with open(base + ".npz.tmp", "wb") as fh:
        np.savez(fh, **arrays.arrays)
    with open(base + ".json.tmp", "w") as fh:
        json.dump(node, fh)
    os.replace(base + ".npz.tmp", base + ".npz")
    os.replace(base + ".json.tmp", base + ".json")


class _Callback:
    """Stands for a reference the grader keeps: calling it asks the grader for its value."""

    def __init__(self, call, key):
        self.call, self.key = call, key
        self.__name__ = key.rpartition(":")[2]

    def __call__(self, *args, **kwargs):
        exchange, n, given = self.call
        _Callback.count += 1
        base = os.path.join(exchange, f"{n}.cb{_Callback.count}")
        arrays = _Arrays()
        node = {"key": self.key, "args": _encode(list(args), arrays, 0, given)}
        node["kwargs"] = _encode(kwargs, arrays, 0, given)
        _write(base, node, arrays)
        while not os.path.exists(base + ".result.pt"):
            time.sleep(0.0005)
        with open(base + ".result.pt", "rb") as fh:
            result = pickle.load(fh)
        if "raised" in result:
            raise RuntimeError(f"xaiexit's {self.__name__}, which the hidden tests provide here, {result['raised']}")
        return result["value"]


class _Request(pickle.Unpickler):
    """The grader's request; its references become callbacks, and the test models' classes
    come from their file (``models``), whatever the learner did to ``sys.modules``."""

    def __init__(self, file, call, models):
        super().__init__(file)
        self.call, self.models = call, models

    def persistent_load(self, pid):
        return _Callback(self.call, pid[1])

    def find_class(self, module, name):
        if module == "xaiexit_grading._models":
            if "models" not in _LOADED:
                spec = importlib.util.spec_from_file_location(module, self.models)
                _LOADED["models"] = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(_LOADED["models"])
            return getattr(_LOADED["models"], name)
        return super().find_class(module, name)


_LOADED = {}


def serve(exchange, n, namespace, models):
    """Answer request ``n``: call the learner's function, write the reply. ``models`` is the
    file of the hidden tests' models."""
    _Callback.count = 0
    call = [exchange, n, ()]
    with open(os.path.join(exchange, f"{n}.in.pt"), "rb") as fh:
        request = _Request(fh, call, models).load()
    call[2] = request["args"]
    try:  # the package's stand-ins, where the sandbox shows the redacted package
        stand_ins = importlib.import_module("xaiexit._stand_in")
    except ImportError:
        stand_ins = None
    served = {key: _Callback(call, key) for key in request["served"]}
    arrays, reply = _Arrays(), {}
    args, kwargs = request["args"], request["kwargs"]
    fn = namespace.get(request["name"])
    globals_ = getattr(fn, "__globals__", None)
    swapped = {}
    watched = {}
    handles = []
    try:
        if fn is None:
            raise NameError(f"name '{request['name']}' is not defined")
        if not callable(fn):
            reply["not_callable"] = type(fn).__name__
        else:
            if isinstance(globals_, dict):
                for name, helper in request["helpers"].items():
                    if name in globals_:
                        swapped[name] = globals_[name]
                        globals_[name] = helper
            if stand_ins is not None:
                stand_ins.SERVED = served
            for index, names in request["probes"].items():
                watched[index], new = _watch(args[int(index)], set(names))
                handles += new
            torch.set_rng_state(request["rng"])
            reply["returned"] = _encode(fn(*args, **kwargs), arrays)
    except BaseException as exc:  # noqa: B902 - whatever the learner's code raises is its answer
        reply["raised"] = type(exc).__name__
        reply["message"] = str(exc)[:4000]
        reply["where"] = _where(exc)[:1000]
    finally:
        if isinstance(globals_, dict):
            globals_.update(swapped)
        if stand_ins is not None:
            stand_ins.SERVED = {}
        for handle in handles:
            handle.remove()
    reply["rng"] = _encode(torch.get_rng_state(), arrays)
    reply["args"] = [_state(a, arrays, watched.get(str(i))) for i, a in enumerate(args)]
    reply["kwargs"] = {k: _state(v, arrays) for k, v in kwargs.items()}
    _write(os.path.join(exchange, f"{n}.out"), reply, arrays)
