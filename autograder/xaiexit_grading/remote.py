"""Hidden tests that run in the trusted grader and call the learner's functions remotely.

While a notebook is autograded, the learner's cells run in a kernel (sandboxed by default).
The hidden tests do not: :class:`~xaiexit_grading.trusted_execute.TrustedExecute` runs each
``check_<exercise>`` in the grader's own process and hands it a :class:`RemoteFunction`
standing for the learner's function. Calling it

1. writes the arguments, the random state and the reference helpers the check swaps in to
   the exchange folder (pickled: the grader's own data, read by the kernel). A reference
   of the lesson travels as its name only: in the kernel it becomes a callback, and the
   grader computes its value while it waits for the call (:class:`_Callbacks`);
2. asks the kernel to run :func:`xaiexit_grading.worker.serve` on them;
3. reads back only plain data (:mod:`xaiexit_grading.reply`) and rebuilds the return value
   from it as plain tensors and numbers (an object whose ``==`` always says yes cannot
   cross);
4. copies the state of the arguments after the call (modes, gradients, values, forward
   hooks' records) back onto the grader's own arguments, so that the hygiene checks see
   what the learner's function did to them.

So nothing the learner's code does reaches the comparison, the catalogue of mistakes or
the score; only the values its functions return (and what they do to their arguments).
A call that runs past the cell timeout is interrupted and fails; a kernel that dies or
ignores the interrupt raises :class:`nbclient.exceptions.DeadKernelError`, which the
grader turns into "this exercise crashed" (see :mod:`xaiexit_grading.grade`).
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import time
import types
from pathlib import Path

import numpy as np
import torch

from xaiexit_grading import _models
from xaiexit_grading._checks import GradingError, Recorder
from xaiexit_grading.reply import LearnerError, RemoteFailure, Reply, learner_error, open_reply, too_large

#: the file of the hidden tests' models (the sandbox shows the kernel this one file)
_MODELS = Path(_models.__file__).resolve()
#: seconds a kernel gets to answer an interrupt before it counts as dead
INTERRUPT_GRACE = 10


class KernelLink:
    """The grader's line to one running kernel: sends requests, waits, interrupts.

    client : a blocking kernel client connected to the kernel (shell and control channels).
    exchange : a folder both sides can read and write.
    timeout : seconds one call may run.
    alive : ``alive() -> bool``, whether the kernel process still runs.
    interrupt : ``interrupt()``, interrupts the kernel.
    """

    def __init__(self, client, exchange: Path, timeout: float, alive, interrupt, references: dict | None = None):
        self.client, self.exchange, self.timeout = client, Path(exchange), timeout
        self.alive, self.interrupt = alive, interrupt
        #: "module:function" -> the lesson's references, which never go to the kernel
        self.references = references or {}
        self.calls = 0

    def run(self, code: str, timeout: float | None = None, on_poll=None) -> bool:
        """Run ``code`` in the kernel; True when it finished in time, False when it had to
        be interrupted. Raises DeadKernelError when the kernel died or stays stuck.
        ``on_poll()`` runs while it waits (it answers the kernel's callbacks)."""
        from nbclient.exceptions import DeadKernelError

        msg_id = self.client.execute(code, silent=True, store_history=False, allow_stdin=False)
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        interrupted_at = None
        while True:
            try:
                reply = self.client.get_shell_msg(timeout=0.002 if on_poll else 0.05)
            except Exception:  # noqa: BLE001 - queue.Empty: nothing yet
                reply = None
            if on_poll is not None and interrupted_at is None:
                on_poll()
            if reply is not None and reply.get("parent_header", {}).get("msg_id") == msg_id:
                return interrupted_at is None
            if not self.alive():
                raise DeadKernelError("Kernel died while the hidden tests called the learner's code")
            now = time.monotonic()
            if interrupted_at is None and now > deadline:
                self.interrupt()
                interrupted_at = now
            elif interrupted_at is not None and now > interrupted_at + INTERRUPT_GRACE:
                raise DeadKernelError("Kernel died: it ignored an interrupt after a call ran out of time")

    def start(self) -> None:
        """Send the worker's source; the kernel keeps it as ``__xaiexit__``."""
        source = (Path(__file__).with_name("worker.py")).read_text()
        code = f"__xaiexit__ = {{}}\nexec(compile({source!r}, '<xaiexit-worker>', 'exec'), __xaiexit__)"
        self.run(code)

    def call(self, name: str, args: tuple, kwargs: dict, helpers: dict):
        """Call the learner's ``name(*args, **kwargs)`` in the kernel; return its value."""
        self.calls += 1
        n = self.calls
        base = self.exchange / f"{n}"
        for suffix in (".out.json", ".out.npz", ".in.pt"):
            Path(f"{base}{suffix}").unlink(missing_ok=True)
        probes = _probes(args)
        # what the kernel may ask for: every reference of the lesson but the exercise under
        # test (library code calls them), and the helpers the check swaps in
        served = {k: f for k, f in self.references.items() if k.rpartition(":")[2] != name}
        served.update({key_of(f): f for f in helpers.values()})
        with _without_recorders(args):
            request = {
                "name": name,
                "args": tuple(args),
                "kwargs": dict(kwargs),
                "rng": torch.get_rng_state(),
                "helpers": helpers,
                "probes": probes,
                "served": sorted(served),
            }
            with _create(f"{base}.in.pt") as fh:
                _Request(fh, served, self.references).dump(request)
        callbacks = _Callbacks(self.exchange, n, served, args)
        try:
            code = f"__xaiexit__['serve']({str(self.exchange)!r}, {n}, globals(), {str(_MODELS)!r})"
            finished = self.run(code, on_poll=callbacks.answer)
            if not finished:
                raise RemoteFailure(
                    f"{name} ran longer than the grading time limit ({self.timeout:g} s) and was stopped: "
                    "look for an endless loop (or very slow code) in it"
                )
            return self.read(name, base, args, kwargs)
        finally:
            for suffix in (".out.json", ".out.npz", ".in.pt"):
                Path(f"{base}{suffix}").unlink(missing_ok=True)
            callbacks.clean()

    def read(self, name: str, base: str, args: tuple, kwargs: dict):
        try:
            json_file, npz_file = open_reply(f"{base}.out.json"), open_reply(f"{base}.out.npz")
        except OSError:
            raise RemoteFailure(f"{name} could not be called (the grading kernel gave no answer)") from None
        with json_file, npz_file:
            if too_large(json_file, npz_file):
                raise RemoteFailure(f"{name} returned more data than the hidden tests read (over 256 MiB)")
            try:
                data = json.loads(json_file.read().decode())
            except (ValueError, UnicodeDecodeError):
                raise RemoteFailure(f"{name} returned something the hidden tests cannot read") from None
            if type(data) is not dict:
                raise RemoteFailure(f"{name} returned something the hidden tests cannot read")
            return self.decode(name, data, npz_file, args, kwargs)

    def decode(self, name: str, data: dict, npz_file, args: tuple, kwargs: dict):
        """The value the learner's function returned; its arguments updated in place."""
        try:
            arrays = np.load(npz_file, allow_pickle=False)
        except Exception:  # noqa: BLE001 - not an archive NumPy reads: whatever the reason
            raise RemoteFailure(f"{name} returned something the hidden tests cannot read") from None
        with arrays:
            reply = Reply(name, data, arrays)
            try:
                rng = reply.value(data.get("rng"))
                if isinstance(rng, torch.Tensor) and rng.shape == torch.get_rng_state().shape:
                    torch.set_rng_state(rng.to(torch.uint8))
                for target, state in zip(args, data.get("args") or []):
                    reply.apply(target, state)
                states = data.get("kwargs") if type(data.get("kwargs")) is dict else {}
                for key, target in kwargs.items():
                    reply.apply(target, states.get(key))
                if "not_callable" in data:
                    raise GradingError(f"{name} must be a function, got {str(data['not_callable'])[:60]}")
                if "raised" in data:
                    raise learner_error(str(data["raised"]), str(data.get("message", "")), str(data.get("where", "")))
                if "returned" not in data:
                    reply.fail("no return value")
                return reply.value(data["returned"])
            except (GradingError, LearnerError):
                raise
            except Exception as exc:  # noqa: BLE001 - a malformed reply, whatever broke on it
                reply.fail(f"{type(exc).__name__}: {exc}"[:200])


def key_of(fn) -> str:
    """The name a reference is served under: "module:function"."""
    return f"{getattr(fn, '__module__', '')}:{getattr(fn, '__qualname__', '')}"


class _Request(pickle.Pickler):
    """Pickles a request (the grader's own data) with every reference as a name only."""

    def __init__(self, file, served: dict, references: dict):
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.served, self.references = served, references

    def persistent_id(self, obj):
        if isinstance(obj, types.FunctionType):
            key = key_of(obj)
            if key in self.references or key in self.served:
                self.served.setdefault(key, obj)
                return ("reference", key)
        return None


class _Callbacks:
    """Answers the kernel's requests for a reference's value during call ``n``."""

    def __init__(self, exchange: Path, n: int, served: dict, args: tuple):
        self.exchange, self.n, self.served, self.args = exchange, n, served, args
        self.count = 0

    def answer(self) -> None:
        base = self.exchange / f"{self.n}.cb{self.count + 1}"
        try:
            json_file, npz_file = open_reply(f"{base}.json"), open_reply(f"{base}.npz")
        except OSError:
            return  # nothing asked yet
        self.count += 1
        with json_file, npz_file:
            try:
                result = {"value": self.compute(json_file, npz_file)}
            except Exception as exc:  # noqa: BLE001 - the kernel is told, and its code raises
                result = {"raised": f"failed: {type(exc).__name__}: {exc}"[:2000]}
        with _create(f"{base}.result.pt.tmp") as fh:
            pickle.dump(result, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(f"{base}.result.pt.tmp", f"{base}.result.pt")

    def compute(self, json_file, npz_file):
        if too_large(json_file, npz_file):
            raise ValueError("its arguments are too large")
        data = json.loads(json_file.read().decode())
        key = data.get("key") if type(data) is dict else None
        if key not in self.served:
            raise ValueError(f"{key!r} is not provided here")
        with np.load(npz_file, allow_pickle=False) as arrays:
            reply = Reply(key, data, arrays, modules=self.args)
            args, kwargs = reply.value(data.get("args")), reply.value(data.get("kwargs"))
        if type(args) is not list or type(kwargs) is not dict or not all(type(k) is str for k in kwargs):
            raise ValueError("malformed arguments")
        return self.served[key](*args, **kwargs)

    def clean(self) -> None:
        for path in self.exchange.glob(f"{self.n}.cb*"):
            path.unlink(missing_ok=True)


def _create(path: str):
    """A new file to write, never through a link the kernel may have put there."""
    Path(path).unlink(missing_ok=True)
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW), "wb")


class RemoteFunction:
    """Stands for the learner's function ``name`` in a hidden test: calling it calls the
    learner's function in the kernel (see the module's docstring)."""

    def __init__(self, link: KernelLink, name: str):
        self.link, self.name = link, name
        self.helpers: dict = {}
        self.__name__ = name

    def __call__(self, *args, **kwargs):
        return self.link.call(self.name, args, kwargs, dict(self.helpers))

    @contextlib.contextmanager
    def using_references(self, references: dict):
        """While the block runs, the learner's own ``name -> reference`` helpers are the
        references (which stay here: the kernel gets callbacks)."""
        saved = self.helpers
        self.helpers = {**saved, **references}
        try:
            yield
        finally:
            self.helpers = saved

    def __repr__(self) -> str:
        return f"<the learner's {self.name}>"


def _probes(args: tuple) -> dict:
    """Recorders hooked on submodules of the model arguments: {arg index: [module names]}."""
    probes = {}
    for i, arg in enumerate(args):
        if isinstance(arg, torch.nn.Module):
            names = [n for n, m in arg.named_modules() if any(isinstance(h, Recorder) for h in _pre_hooks(m))]
            if names:
                probes[str(i)] = names
    return probes


def _pre_hooks(module: torch.nn.Module) -> list:
    return list(module._forward_pre_hooks.values())


@contextlib.contextmanager
def _without_recorders(args: tuple):
    """Take the Recorder hooks off the models while they are saved (the kernel hooks its own)."""
    removed = []
    for arg in args:
        if isinstance(arg, torch.nn.Module):
            for m in arg.modules():
                for key, hook in list(m._forward_pre_hooks.items()):
                    if isinstance(hook, Recorder):
                        removed.append((m, key, hook))
                        del m._forward_pre_hooks[key]
    try:
        yield
    finally:
        for m, key, hook in removed:
            m._forward_pre_hooks[key] = hook
