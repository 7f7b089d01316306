"""The machine, software versions and date a run was measured on, for the report's header.

Figures mean little without them: the same kernel is 2x apart on two CPUs.
"""

from __future__ import annotations

import datetime
import importlib.metadata
import os
import platform
import shutil
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("teabox", "wasmtime", "ziglang", "pywasm3", "pywasm", "cryptography", "matplotlib")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return None


def _first_line(command: list[str]) -> str | None:
    if shutil.which(command[0]) is None:
        return None
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    text = (done.stdout or done.stderr).strip()
    return text.splitlines()[0] if text else None


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def load_average() -> str:
    """The 1/5/15-minute load averages: on a shared machine, how much else was running."""
    try:
        return " / ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def describe() -> dict[str, Any]:
    commit = _first_line(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
    dirty = _first_line(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"])
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": _memory_gib(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "gcc": _first_line(["gcc", "--version"]),
        "iwasm": _first_line(["iwasm", "--version"]),
        "packages": {name: _version(name) for name in PACKAGES},
        "load_average": load_average(),
        "commit": f"{commit}{' (with local changes)' if dirty else ''}" if commit else None,
    }


def summary_line(env: dict[str, Any]) -> str:
    """One line for the README: date and machine."""
    memory = f", {env['memory_gib']:.0f} GiB" if env.get("memory_gib") else ""
    return f"{env['date'][:10]}, {env['cpu']}, {env['cores']} cores{memory}, Python {env['python']}"
