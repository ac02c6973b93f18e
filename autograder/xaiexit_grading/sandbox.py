"""Run a learner's notebook in a bubblewrap sandbox while it is graded.

``xaiexit grade`` (unless ``--no-sandbox``) gives every grading kernel a kernelspec that starts it
inside ``bwrap`` under ``prlimit``:

- the whole file system is read-only; the user's home, the workspace (other students'
  work, the gradebook), ``solutions/`` and ``.git`` are hidden behind empty folders;
  only the student's own grading folder and the kernel's socket folder are writable;
- no network (a private network namespace) and no view of other processes;
- HOME, TMPDIR, IPYTHONDIR and MPLCONFIGDIR point into a private ``/tmp``;
- ``prlimit`` caps address space and CPU time.

The kernel talks to the grader over IPC sockets in a folder both can see, as a
network namespace has no shared TCP. Linux only; needs ``bwrap`` (``apt-get install
bubblewrap``).
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from xaiexit.course.workspace import CourseError, default_workspace

KERNEL = "xaiexit-sandbox"
MEMORY_BYTES = 16 * 2**30  # address space: torch's CUDA build maps several GiB at import
CPU_SECONDS = 900


def require_bwrap() -> str:
    path = shutil.which("bwrap")
    if path is None:
        raise CourseError(
            "grading runs every notebook in a bubblewrap sandbox, and bwrap is not installed: "
            "install it with `sudo apt-get install bubblewrap` (Linux), or grade with --no-sandbox "
            "only work you trust or inside a throwaway container"
        )
    return path


def kernel_argv(course: Path, workspace: Path, writable: list[Path], runtime: Path) -> list[str]:
    """The command that starts one sandboxed ipykernel (``{connection_file}`` is filled in
    by jupyter_client)."""
    home = Path.home()
    args = [
        shutil.which("prlimit") or "prlimit",
        f"--as={MEMORY_BYTES}",
        f"--cpu={CPU_SECONDS}",
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
    hidden = [course / "solutions", course / ".git", workspace, default_workspace()]
    for path in hidden:
        if path.exists():
            args += ["--tmpfs", str(path.resolve())]
    for path in [*writable, runtime]:
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


def configure(config, course: Path, workspace: Path, writable: list[Path], runtime: Path) -> None:
    """Write the sandbox kernelspec into ``runtime/kernels`` and point ``config`` at it.

    ``runtime`` must be on JUPYTER_PATH while the kernels start (the grader scopes that).
    """
    spec = runtime / "kernels" / KERNEL
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": kernel_argv(course, workspace, writable, runtime),
                "display_name": "Python 3 (xaiexit grading sandbox)",
                "language": "python",
                "interrupt_mode": "message",  # signals do not cross into the sandbox's pid namespace
            },
            indent=1,
        )
    )
    config.Execute.kernel_name = KERNEL
    config.KernelManager.transport = "ipc"
    config.KernelManager.ip = str(runtime / "kernel")  # absolute: grader and kernel agree
    config.KernelManager.connection_file = str(runtime / "connection.json")
