"""CPU time and memory of other processes, read from /proc: servers, workers, sandboxes, PostgreSQL.

On a shared machine CPU seconds say more than wall time: they do not grow while a process waits for a
core that someone else's work holds.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (state, ppid, pgrp, ...); None once it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def _processes() -> Iterator[tuple[int, list[str]]]:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) is not None:
            yield int(entry.name), fields


def _cpu(fields: list[str]) -> float:
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime


def cpu_seconds(pids: list[int]) -> float:
    """CPU time so far of the processes ``pids`` that are still alive."""
    return sum(_cpu(fields) for pid in pids if (fields := _stat(pid)) is not None)


def group_cpu_seconds(group: int) -> float:
    """CPU time used so far by the live processes of process group ``group`` (a server and its workers)."""
    return sum(_cpu(fields) for _, fields in _processes() if int(fields[2]) == group)


def tree_cpu_seconds(root: int) -> float:
    """CPU time so far of ``root`` and its direct children (PostgreSQL's postmaster and its backends)."""
    return sum(_cpu(fields) for pid, fields in _processes() if pid == root or int(fields[1]) == root)


def group_members(group: int) -> list[int]:
    return [pid for pid, fields in _processes() if int(fields[2]) == group]


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def peak_rss_bytes(pid: int) -> int | None:
    """The process's resident-memory high-water mark (VmHWM) since it started; None once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def parent_of(pid: int) -> int | None:
    fields = _stat(pid)
    return int(fields[1]) if fields is not None else None
