"""A task over a 1 GiB encrypted input: end-to-end MB/s and the worker's peak memory.

A ``teabox serve`` with one worker; the user encrypts a 1 GiB file in the Teaclave file format
(teaclave-file-128), uploads it and registers it as the input of a task whose payload reads it to the
end in 1 MiB calls and returns the byte count (bench/payloads/file_io.c), which is checked. The figure
is the plaintext size over the time from the invoke request to the result, which covers the worker
fetching the ciphertext, verifying and decrypting it, and the payload reading every byte.

Memory: while the task runs, the resident-memory high-water mark (VmHWM) of every process of the
server's process group is sampled every 20 ms; the worker is a child of the server, its sandbox
processes children of the worker. VmHWM never falls, so a sample taken at any time after a peak
still sees it.

The plaintext and ciphertext files are deleted as soon as they have been used, and the run refuses
to start when the scratch disk has too little room.

``python bench/big_input.py [--quick]`` prints the section alone.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

if __name__ == "__main__" and not __package__:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.backends import EMBEDDED
from bench.end_to_end import Platform, running_platform
from bench.hostcalls import file_io_payload
from bench.procfs import command_line, group_cpu_seconds, group_members, parent_of, peak_rss_bytes
from bench.section import Log, Mode, Section, Target
from teabox.client.crypto import encrypt_file
from teabox.client.requests import DataMap, FunctionArgument, FunctionInput, OwnerList
from teabox.formats.pfs_layout import host_size
from teabox.worker.fetch import TransferPolicy

TITLE = "A task over a 1 GiB encrypted input"
MiB = 1024 * 1024
CHUNK = MiB  # the payload's read size
MB_PER_SECOND_TARGET = 300.0
RSS_TARGET_MB = 200.0
_SAMPLE_SECONDS = 0.02
SANDBOX_MODULE = "teabox.executor.sandbox_child"


@dataclass
class PeakMemory:
    """Samples VmHWM of a server's process group in a thread until stopped."""

    group: int
    peaks: dict[int, int] = field(default_factory=dict)
    seen: dict[int, tuple[int | None, str]] = field(default_factory=dict)  # pid -> (parent, command line)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def sample(self) -> None:
        for pid in group_members(self.group):
            if pid not in self.seen:
                self.seen[pid] = (parent_of(pid), command_line(pid))
            if (peak := peak_rss_bytes(pid)) is not None:
                self.peaks[pid] = max(peak, self.peaks.get(pid, 0))

    def _loop(self) -> None:
        while not self._stop.wait(_SAMPLE_SECONDS):
            self.sample()

    def __enter__(self) -> PeakMemory:
        self.sample()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join()
        self.sample()

    def by_role(self) -> dict[str, list[dict[str, Any]]]:
        """Each process's peak under ``sandbox`` (a sandbox process), ``worker`` (the parent of one),
        ``server`` or ``other`` (multiprocessing's resource tracker)."""
        sandboxes = {pid for pid, (_, command) in self.seen.items() if SANDBOX_MODULE in command}
        workers = {self.seen[pid][0] for pid in sandboxes}
        roles: dict[str, list[dict[str, Any]]] = {"worker": [], "sandbox": [], "server": [], "other": []}
        for pid, peak in self.peaks.items():
            role = (
                "server"
                if pid == self.group
                else "sandbox"
                if pid in sandboxes
                else "worker"
                if pid in workers
                else "other"
            )
            roles[role].append({"pid": pid, "peak_bytes": peak, "command": self.seen[pid][1][:120]})
        return roles


def _free_bytes(path: Path) -> int:
    return shutil.disk_usage(path).free


def _plaintext(path: Path, size: int) -> None:
    block = os.urandom(MiB)
    with open(path, "wb") as f:
        for offset in range(0, size, MiB):
            f.write(block[: min(MiB, size - offset)])


def plaintext_size(encrypted_limit: int) -> int:
    """The most whole MiB of plaintext whose teaclave-file-128 file still fits in ``encrypted_limit`` bytes."""
    size = encrypted_limit // MiB * MiB
    while host_size(size) > encrypted_limit:
        size -= MiB
    return size


def run(mode: Mode, log: Log) -> dict[str, Any]:
    size = plaintext_size(mode.reps(TransferPolicy().max_input_bytes, 16 * MiB))
    with tempfile.TemporaryDirectory(prefix="teabox-bench-big-input-") as tmp:
        workdir = Path(tmp)
        # plaintext and ciphertext on the client's side, the stored blob, the worker's fetched and plain copies
        needed = 5 * size
        if _free_bytes(workdir) < needed:
            raise RuntimeError(f"{workdir} has {_free_bytes(workdir) / MiB:.0f} MiB free, {needed / MiB:.0f} needed")
        # the server's upload limit raised for the file: an operator's setting (the worker's input limit is 1 GiB)
        backend = replace(EMBEDDED, extra_args=("--max-upload-bytes", str(2 * size)))
        with running_platform(workdir, backend, workers=1) as p:
            function_id = p.vendor.register_function(
                name="read-input",
                description="reads its input to the end and returns the byte count",
                executor_type="wamr",
                payload=file_io_payload(),
                arguments=[FunctionArgument("mode", "read"), FunctionArgument("size", str(CHUNK))],
                inputs=[FunctionInput("input", "any file")],
            )
            log("big input: a 1 MiB warm-up task")
            _task(p, function_id, workdir, MiB, log)
            log(f"big input: encrypting and uploading {size // MiB} MiB")
            figures = _task(p, function_id, workdir, size, log)
    return figures


def _task(p: Platform, function_id: str, workdir: Path, size: int, log: Log) -> dict[str, Any]:
    user = p.client_for(p.user)
    plain = workdir / "input.bin"
    _plaintext(plain, size)
    started = time.perf_counter()
    encrypted = encrypt_file(plain, workdir / "input.enc", name="input.enc")
    encrypt_seconds = time.perf_counter() - started
    plain.unlink()
    started = time.perf_counter()
    registered = user.register_encrypted_input(encrypted.path, encrypted.crypto, name="input.enc")
    upload_seconds = time.perf_counter() - started
    encrypted.path.unlink()
    task_id = user.create_task(
        function_id, {"mode": "read", "size": str(CHUNK)}, inputs_ownership=[OwnerList("input", [user.user_id])]
    )
    user.assign_data_to_task(task_id, [DataMap("input", registered.data_id)], [])
    user.approve_task(task_id)
    assert p.server.process is not None
    log(f"big input: the task over {size // MiB} MiB")
    group = p.server.process.pid
    with PeakMemory(group) as memory:
        started, cpu = time.perf_counter(), group_cpu_seconds(group)
        user.invoke_task(task_id)
        result = user.wait_for_task(task_id)
        seconds, cpu = time.perf_counter() - started, group_cpu_seconds(group) - cpu
    if result.return_value != str(size):
        raise RuntimeError(f"the payload read {result.return_value} bytes of a {size}-byte input")
    return {
        "bytes": size,
        "encrypted_bytes": host_size(size),
        "seconds": seconds,
        "mb_per_second": size / 1e6 / seconds,
        "platform_cpu_seconds": cpu,
        "mb_per_cpu_second": size / 1e6 / cpu,
        "stages_seconds": result.metrics.get("stages") or {},
        "client_encrypt_seconds": encrypt_seconds,
        "client_verify_and_upload_seconds": upload_seconds,
        "processes": memory.by_role(),
        "load_average": os.getloadavg()[0],
    }


def _peak(figures: dict[str, Any], role: str) -> int:
    return max((p["peak_bytes"] for p in figures["processes"][role]), default=0)


def measure(mode: Mode, log: Log, cache_dir: Path) -> Section:
    """The suite's entry point (``cache_dir`` is unused: the server compiles the payload itself)."""
    f = run(mode, log)
    size_mb = f["bytes"] / 1e6
    worker, sandbox = _peak(f, "worker"), _peak(f, "sandbox")
    stages = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in f["stages_seconds"].items())
    lines = [
        f"One task over an input of {f['encrypted_bytes'] / MiB:.0f} MiB in the Teaclave file format "
        f"(teaclave-file-128; {f['bytes'] // MiB} MiB of plaintext: the most whose file fits the worker's 1 GiB "
        "input limit), on `teabox serve` with its defaults, one worker and `--max-upload-bytes` raised for the "
        "file. The payload reads the input to the end in 1 MiB calls and returns the byte count, which is "
        "checked. MB/s is the plaintext size over invoke request → result. "
        "Peak memory is each process's VmHWM, sampled every 20 ms while the task ran.",
        "",
        "| | measured | load (1 min) |",
        "|---|---|---|",
        f"| end to end, invoke → result | {f['seconds']:.2f} s, **{f['mb_per_second']:.0f} MB/s** | "
        f"{f['load_average']:.1f} |",
        f"| CPU of the server, worker and sandbox meanwhile | {f['platform_cpu_seconds']:.2f} s, "
        f"{f['mb_per_cpu_second']:.0f} MB per CPU-second | |",
        f"| the worker's stages | {stages} | |",
        f"| peak RSS: worker process / its sandbox process / both | {worker / 1e6:.0f} / {sandbox / 1e6:.0f} / "
        f"**{(worker + sandbox) / 1e6:.0f} MB** | |",
        f"| the client beforehand: encrypt; verify and upload | {size_mb / f['client_encrypt_seconds']:.0f} MB/s; "
        f"{size_mb / f['client_verify_and_upload_seconds']:.0f} MB/s | |",
    ]
    targets = [
        Target("1 GiB encrypted input, end to end", MB_PER_SECOND_TARGET, ">=", "MB/s", f["mb_per_second"]),
        Target("1 GiB encrypted input, worker + sandbox peak RSS", RSS_TARGET_MB, "<=", "MB", (worker + sandbox) / 1e6),
    ]
    return Section(TITLE, "\n".join(lines) + "\n", f, targets)


def main() -> None:
    from bench.run import console_log

    print(measure(Mode(quick="--quick" in sys.argv[1:]), console_log(), Path(tempfile.gettempdir())).markdown)


if __name__ == "__main__":
    main()
