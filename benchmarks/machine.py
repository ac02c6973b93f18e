"""The lines every benchmark table starts with: when, on what, under how much load."""

from __future__ import annotations

import datetime
import os
import platform

import torch


def machine_description(threads: int, versions: dict[str, str] | None = None) -> list[str]:
    """Markdown list lines: date, CPU and cores, torch threads, library versions, load."""
    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    libraries = {"torch": torch.__version__, **(versions or {})}
    lines = [
        f"- Date: {datetime.datetime.now().strftime('%Y-%m-%d %H:%M')}",
        f"- CPU: {cpu}, {os.cpu_count()} cores; torch threads: {threads}",
        f"- {', '.join(f'{name} {version}' for name, version in libraries.items())}, "
        f"Python {platform.python_version()}",
    ]
    if hasattr(os, "getloadavg"):
        load = os.getloadavg()
        lines.append(f"- Load average at start (1/5/15 min): {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}")
    return lines
