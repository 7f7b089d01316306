"""The build cache: a rebuild of unchanged sources with the same toolchain and flags is a lookup.

An entry is found by a key over the sources' paths and contents, the flags and
the toolchain's identity, and is used only if every file the compiler read for
it (headers, @imported modules, the crate's other files) still has the
contents it had. Entries are written atomically: a crashed build leaves no
half-written entry behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from teabox.executor.cache import default_cache_dir
from teabox.toolchain.backend import file_digest

_FORMAT = 1


@dataclass(frozen=True)
class CacheEntry:
    wasm: bytes
    dependencies: dict[str, str]  # path -> sha256 of its contents when built


def _atomic_write(path: Path, data: bytes) -> None:
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


class BuildCache:
    def __init__(self, directory: Path | None = None) -> None:
        self.directory = (directory or default_cache_dir()) / "builds"

    @staticmethod
    def key(material: dict[str, object]) -> str:
        """The content address of a build (``material`` must be JSON)."""
        text = json.dumps({"format": _FORMAT, **material}, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def _paths(self, key: str) -> tuple[Path, Path]:
        folder = self.directory / key[:2]
        return folder / f"{key}.wasm", folder / f"{key}.json"

    def get(self, key: str) -> CacheEntry | None:
        """The entry for ``key`` if it exists, is intact and none of its dependencies changed."""
        wasm_path, manifest_path = self._paths(key)
        try:
            manifest = json.loads(manifest_path.read_text())
            wasm = wasm_path.read_bytes()
        except (OSError, ValueError):
            return None
        if hashlib.sha256(wasm).hexdigest() != manifest.get("wasm_sha256"):
            return None
        dependencies: dict[str, str] = manifest.get("dependencies", {})
        for path, digest in dependencies.items():
            try:
                if file_digest(Path(path)) != digest:
                    return None
            except OSError:
                return None
        return CacheEntry(wasm, dependencies)

    def put(self, key: str, wasm: bytes, dependencies: dict[str, str]) -> None:
        wasm_path, manifest_path = self._paths(key)
        wasm_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        _atomic_write(wasm_path, wasm)
        # The manifest goes last: it is what makes the entry visible.
        manifest = {"wasm_sha256": hashlib.sha256(wasm).hexdigest(), "dependencies": dependencies}
        _atomic_write(manifest_path, json.dumps(manifest, indent=1).encode())
