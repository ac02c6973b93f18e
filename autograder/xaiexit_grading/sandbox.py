"""Run a learner's notebook in a bubblewrap sandbox while it is graded.

``xaiexit grade`` (unless ``--no-sandbox``) gives every grading kernel a kernelspec that starts it
inside ``bwrap`` under ``prlimit``:

- the ``xaiexit`` package is a copy in which the lesson's exercises have no body
  (:mod:`xaiexit_grading.references`): their references are out of reach;
- the whole file system is read-only; the user's home, the workspace (other students'
  work, the gradebook), ``solutions/``, ``.git`` and ``autograder/`` (the hidden tests, the
  catalogues of mistakes) are hidden behind empty folders, all but the test models
  (``xaiexit_grading/_models.py``), whose classes must load in the kernel;
  only the student's own grading folder and the kernel's socket folder are writable;
- no network (a private network namespace) and no view of other processes;
- the kernelspec is read-only to the kernel: only its sockets and the folder where the
  hidden tests' calls pass (``exchange``) are writable;
- HOME, TMPDIR, IPYTHONDIR and MPLCONFIGDIR point into a private ``/tmp``;
- ``prlimit`` caps address space, CPU time and the size of a file;
- a pids cgroup (:func:`process_limit`), where the machine gives one, caps the processes and
  threads of a kernel and all it starts.

The kernel talks to the grader over IPC sockets in a folder both can see, as a
network namespace has no shared TCP. Linux only; needs ``bwrap`` (``apt-get install
bubblewrap``).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

from xaiexit.course.workspace import CourseError, default_workspace
from xaiexit_grading.references import PACKAGE

KERNEL = "xaiexit-sandbox"
MEMORY_BYTES = 16 * 2**30  # address space: torch's CUDA build maps several GiB at import
CPU_SECONDS = 900
FILE_BYTES = 1 * 2**30  # the largest file the kernel may write
#: processes and threads one grading kernel may run (torch starts a thread per core)
TASKS = 512


def require_bwrap() -> str:
    path = shutil.which("bwrap")
    if path is None:
        raise CourseError(
            "grading runs every notebook in a bubblewrap sandbox, and bwrap is not installed: "
            "install it with `sudo apt-get install bubblewrap` (Linux), or grade with --no-sandbox "
            "only work you trust or inside a throwaway container"
        )
    return path


def _joining(group: Path | None) -> list[str]:
    """The start of a command that moves itself into ``group`` (a cgroup), then runs the rest."""
    return ["/bin/sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', str(group)] if group else []


def kernel_argv(course: Path, workspace: Path, writable: list[Path], runtime: Path, group: Path | None = None) -> list:
    """The command that starts one sandboxed ipykernel (``{connection_file}`` is filled in
    by jupyter_client), in the pids cgroup ``group`` when there is one."""
    home = Path.home()
    args = [
        *_joining(group),
        shutil.which("prlimit") or "prlimit",
        f"--as={MEMORY_BYTES}",
        f"--cpu={CPU_SECONDS}",
        f"--fsize={FILE_BYTES}",
        "--",
        require_bwrap(),
        "--ro-bind",
        "/",
        "/",
        "--dev",
        "/dev",
        "--tmpfs",
        "/dev/shm",
        "--proc",
        "/proc",
        "--tmpfs",
        "/tmp",
        "--tmpfs",
        str(home),
    ]
    # what the kernel needs, read-only, even where it lives under the hidden /tmp or home:
    # the course (its venv and the package) and the Python installation
    for keep in (course, Path(sys.prefix), Path(sys.base_prefix)):
        args += ["--ro-bind", str(keep.resolve()), str(keep.resolve())]
    hidden = [course / "solutions", course / ".git", course / "autograder", workspace, default_workspace()]
    for path in hidden:
        if path.is_dir():
            args += ["--tmpfs", str(path.resolve())]
        elif path.exists():  # a file (.git in a worktree): an empty one in its place
            args += ["--ro-bind", "/dev/null", str(path.resolve())]
    # of the grading package, the kernel sees only the test models (their classes load there)
    package = course / "autograder" / "xaiexit_grading"
    shown = runtime / "xaiexit_grading"
    shown.mkdir(exist_ok=True)
    (shown / "__init__.py").write_text('"""The test models of the hidden tests; the rest is not shown here."""\n')
    shutil.copyfile(package / "_models.py", shown / "_models.py")
    args += ["--ro-bind", str(shown.resolve()), str(package.resolve())]
    # the learner's package, with the lesson's exercises redacted (xaiexit_grading.references)
    redacted = runtime / "package" / "xaiexit"
    if redacted.is_dir():
        args += ["--ro-bind", str(redacted.resolve()), str(PACKAGE)]
    # the kernelspec and connection file read-only (a kernel that rewrote its own kernelspec
    # would start unsandboxed after a crash); its sockets and the hidden tests' exchange writable
    args += ["--ro-bind", str(runtime.resolve()), str(runtime.resolve())]
    for path in [*writable, runtime / "sockets", runtime / "exchange"]:
        path.mkdir(parents=True, exist_ok=True)
        args += ["--bind", str(path.resolve()), str(path.resolve())]
    args += [
        "--unshare-net",
        "--unshare-pid",
        "--die-with-parent",
        "--setenv",
        "HOME",
        "/tmp",
        "--setenv",
        "TMPDIR",
        "/tmp",
        "--setenv",
        "IPYTHONDIR",
        "/tmp/.ipython",
        "--setenv",
        "MPLCONFIGDIR",
        "/tmp/.matplotlib",
        # the kernel would watch a parent pid it cannot see in its own pid namespace
        "--unsetenv",
        "JPY_PARENT_PID",
        # without a parent pid ipykernel prints a connection banner on stdout: drop it
        "/bin/sh",
        "-c",
        'exec "$@" > /dev/null',
        "sh",
        sys.executable,
        "-m",
        "ipykernel_launcher",
        "-f",
        "{connection_file}",
    ]
    return args


def process_limit_available() -> bool:
    """Whether grading kernels get a process limit on this machine (see process_limit)."""
    return _pids_root() is not None


def _pids_root() -> Path | None:
    """A cgroup folder with the pids controller this process may create groups in."""
    v1 = Path("/sys/fs/cgroup/pids")
    if (v1 / "cgroup.procs").is_file() and os.access(v1, os.W_OK):
        return v1
    v2 = Path("/sys/fs/cgroup")
    try:
        if "pids" in (v2 / "cgroup.subtree_control").read_text().split() and os.access(v2, os.W_OK):
            return v2
    except OSError:
        pass
    return None


@contextlib.contextmanager
def process_limit(runtime: Path, warn=print):
    """While the block runs, a pids cgroup for the grading kernels: :func:`configure` gives
    each kernel a group of its own holding at most :data:`TASKS` processes and threads, so a
    fork bomb stops there (and what one kernel leaves behind while it ends costs the next
    nothing). Needs a writable pids controller (root, or a delegated cgroup); without one,
    ``warn`` says so and kernels run with the other limits only."""
    root = _pids_root()
    if root is None:
        warn(
            "  note: no process limit for the grading kernels (no writable pids cgroup: run as root, "
            "or in a container or a systemd scope with one); the other limits hold"
        )
        yield None
        return
    parent = Path(tempfile.mkdtemp(prefix="xaiexit-", dir=root))
    (runtime / "cgroups").write_text(str(parent))
    try:
        yield parent
    finally:
        for group in [*parent.iterdir(), parent]:
            if group.is_dir():
                _remove_group(group)


def _remove_group(group: Path) -> None:
    """Remove a cgroup, killing what is left in it (the kernels' processes end with their
    sandboxes, a moment after the kernel)."""
    for _ in range(100):
        try:
            group.rmdir()
            return
        except OSError:
            for pid in (group / "cgroup.procs").read_text().split():
                with contextlib.suppress(OSError):
                    os.kill(int(pid), signal.SIGKILL)
            time.sleep(0.1)


def _new_group(runtime: Path) -> Path | None:
    """A pids cgroup for one kernel, inside the grading run's (see process_limit)."""
    parents = runtime / "cgroups"
    if not parents.is_file():
        return None
    group = Path(tempfile.mkdtemp(prefix="kernel-", dir=parents.read_text()))
    (group / "pids.max").write_text(f"{TASKS}\n")
    return group


def configure(
    config, course: Path, workspace: Path, writable: list[Path], runtime: Path, sandbox: bool = True
) -> Path | None:
    """Write the kernelspec of the next student's kernel into ``runtime/kernels`` and point
    ``config`` at it: sandboxed, or (``sandbox=False``) an ordinary kernel. Either way the
    kernel gets a pids cgroup of its own where the machine gives one; it is returned, for
    :func:`end_group` once the student is graded.

    ``runtime`` must be on JUPYTER_PATH while the kernels start (the grader scopes that).
    """
    group = _new_group(runtime)
    exchange = runtime / "exchange"  # where the hidden tests' calls and replies pass
    exchange.mkdir(exist_ok=True)
    config.TrustedExecute.exchange_directory = str(exchange)
    if sandbox:
        spec = {
            "argv": kernel_argv(course, workspace, writable, runtime, group),
            "display_name": "Python 3 (xaiexit grading sandbox)",
            "language": "python",
            "interrupt_mode": "message",  # signals do not cross into the sandbox's pid namespace
        }
        config.KernelManager.transport = "ipc"
        config.KernelManager.ip = str(runtime / "sockets" / "kernel")  # absolute: grader and kernel agree
        config.KernelManager.connection_file = str(runtime / "connection.json")
    elif group is not None:
        argv = [*_joining(group), sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
        spec = {"argv": argv, "display_name": "Python 3 (xaiexit grading)", "language": "python"}
    else:
        return None  # nbgrader's own kernel, as configured
    folder = runtime / "kernels" / KERNEL
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "kernel.json").write_text(json.dumps(spec, indent=1))
    config.Execute.kernel_name = KERNEL
    return group


def end_group(group: Path | None) -> None:
    """End whatever the student's kernel left running (a detached process, say), and remove
    its cgroup."""
    if group is not None:
        _remove_group(group)
