"""The compiled-module cache: in memory for this process, on disk across processes.

Loading a compiled artifact runs its machine code, so only artifacts teabox
compiled itself may be loaded: the directory is private (0700, owned by this
user), every entry carries an HMAC under a secret that never leaves it, and an
entry whose HMAC does not verify is recompiled rather than loaded.

The disk cache is bounded (``TEABOX_CACHE_MAX_BYTES``, 1 GiB by default):
after each new entry the least recently used entries go until the rest fit.
"Used" is the entry's modification time, which a load from disk refreshes
(access times are not reliable: most file systems are mounted ``relatime``).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import wasmtime

from teabox import config
from teabox.executor.engine import EngineSpec, engine_for

_MAC_SIZE = 32


def default_max_disk_bytes() -> int:
    return config.CACHE_MAX_BYTES.get_int(config.DEFAULT_CACHE_MAX_BYTES)


def default_cache_dir() -> Path:
    configured = config.CACHE_DIR.get()
    if configured:
        return Path(configured)
    base = config.XDG_CACHE_HOME.get() or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "teabox"


@dataclass
class CachedModule:
    module: wasmtime.Module
    pre: wasmtime.InstancePre | None  # filled by the runner, which owns the linker
    source: str  # where this process got it: "disk" or "compiled"


class ModuleCache:
    """Compiled modules keyed by payload sha256 and engine fingerprint."""

    def __init__(
        self,
        directory: Path | None = None,
        *,
        memory_entries: int = 64,
        disk: bool = True,
        max_disk_bytes: int | None = None,
    ) -> None:
        self.directory = (directory or default_cache_dir()) / "modules"
        self.disk = disk  # a sandbox process has no disk cache: its parent passes artifacts instead
        self.max_disk_bytes = default_max_disk_bytes() if max_disk_bytes is None else max_disk_bytes
        self.memory_entries = memory_entries
        self._memory: OrderedDict[tuple[EngineSpec, str], CachedModule] = OrderedDict()
        self._lock = threading.Lock()
        self._key_locks: dict[tuple[EngineSpec, str], threading.Lock] = {}
        self.compilations = 0  # observable: how many times this cache invoked the compiler
        self._secret: bytes | None = None
        self.disk_problem: str | None = None

    # -- disk -----------------------------------------------------------------

    def _prepare_directory(self) -> bytes | None:
        """Create or check the private directory; return the HMAC secret, or None if unusable."""
        if self._secret is not None or self.disk_problem is not None:
            return self._secret
        try:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            info = self.directory.stat()
            if info.st_uid != os.getuid() or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
                self.disk_problem = f"cache directory {self.directory} is not private to this user; not used"
                return None
            secret_path = self.directory / "secret"
            if not secret_path.exists():
                fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".secret-")
                with os.fdopen(fd, "wb") as f:
                    f.write(secrets.token_bytes(32))
                try:
                    os.link(tmp, secret_path)  # first writer wins; never overwrite a secret in use
                except FileExistsError:
                    pass
                finally:
                    os.unlink(tmp)
            self._secret = secret_path.read_bytes()
        except OSError as exc:
            self.disk_problem = f"cache directory {self.directory} unusable: {exc}"
        return self._secret

    def _entry_path(self, spec: EngineSpec, sha256: str) -> Path:
        name = hashlib.sha256(f"{sha256};{spec.fingerprint}".encode()).hexdigest()
        return self.directory / f"{name}.cwasm"

    def _mac(self, secret: bytes, spec: EngineSpec, sha256: str, artifact: bytes) -> bytes:
        header = f"{sha256};{spec.fingerprint}".encode()
        return hmac.new(secret, header + b"\0" + artifact, hashlib.sha256).digest()

    def load_artifact(self, spec: EngineSpec, sha256: str) -> bytes | None:
        """The compiled artifact on disk for this module and engine, if its HMAC verifies."""
        secret = self._prepare_directory() if self.disk else None
        if secret is None:
            return None
        path = self._entry_path(spec, sha256)
        try:
            blob = path.read_bytes()
        except OSError:
            return None
        mac, artifact = blob[:_MAC_SIZE], blob[_MAC_SIZE:]
        if not hmac.compare_digest(mac, self._mac(secret, spec, sha256, artifact)):
            return None
        try:
            os.utime(path)  # recently used: the last to go when the cache is over its size
        except OSError:
            pass  # removed meanwhile by another process's pruning; the artifact read is still good
        return artifact

    @staticmethod
    def _deserialize(spec: EngineSpec, artifact: bytes | None) -> wasmtime.Module | None:
        if artifact is None:
            return None
        try:
            return wasmtime.Module.deserialize(engine_for(spec), artifact)
        except wasmtime.WasmtimeError:
            return None

    def store_artifact(self, spec: EngineSpec, sha256: str, artifact: bytes) -> None:
        """Keep a compiled artifact on disk, under this directory's HMAC."""
        secret = self._prepare_directory() if self.disk else None
        if secret is None:
            return
        path = self._entry_path(spec, sha256)
        try:
            fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".entry-")
            with os.fdopen(fd, "wb") as f:
                f.write(self._mac(secret, spec, sha256, artifact) + artifact)
            os.replace(tmp, path)
        except OSError as exc:
            self.disk_problem = f"cannot write cache entry {path}: {exc}"
            return
        self.prune()

    def prune(self) -> list[Path]:
        """Remove least recently used entries until the disk cache fits ``max_disk_bytes``; returns what went."""
        entries = []
        for path in self.directory.glob("*.cwasm"):
            try:
                info = path.stat()
            except FileNotFoundError:
                continue
            entries.append((info.st_mtime_ns, info.st_size, path))
        total = sum(size for _, size, _ in entries)
        removed = []
        for _, size, path in sorted(entries):
            if total <= self.max_disk_bytes:
                break
            path.unlink(missing_ok=True)
            total -= size
            removed.append(path)
        return removed

    # -- lookup ---------------------------------------------------------------

    def get(
        self, spec: EngineSpec, payload: bytes, sha256: str, artifact: bytes | None = None
    ) -> tuple[CachedModule, str]:
        """The compiled module and where it came from this time: memory, disk or compiled.

        ``artifact`` is a compiled artifact the caller read from a disk cache (a sandbox
        process's parent does); without it this cache reads its own.
        """
        key = (spec, sha256)
        with self._lock:
            entry = self._memory.get(key)
            if entry is not None:
                self._memory.move_to_end(key)
                return entry, "memory"
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:  # one compilation per module, even when many threads ask at once
            with self._lock:
                entry = self._memory.get(key)
            if entry is not None:
                return entry, "memory"
            module = self._deserialize(spec, artifact or self.load_artifact(spec, sha256))
            source = "disk"
            if module is None:
                module = wasmtime.Module(engine_for(spec), payload)
                self.compilations += 1
                source = "compiled"
                if self.disk:
                    self.store_artifact(spec, sha256, bytes(module.serialize()))
            entry = CachedModule(module, None, source)
            with self._lock:
                self._memory[key] = entry
                while len(self._memory) > self.memory_entries:
                    self._memory.popitem(last=False)
                self._key_locks.pop(key, None)
        return entry, source

    def artifact(self, spec: EngineSpec, sha256: str) -> bytes | None:
        """The serialized form of a module held in memory (for a sandbox's parent to keep on disk)."""
        with self._lock:
            entry = self._memory.get((spec, sha256))
        return None if entry is None else bytes(entry.module.serialize())
