"""The disk cache of compiled modules stays under its size bound, dropping the least recently used."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from teabox.executor.cache import ModuleCache
from teabox.executor.engine import EngineSpec

from .conftest import entry

SPEC = EngineSpec(epoch=True, fuel=False, stack=512 * 1024)


def _module(value: int) -> tuple[bytes, str]:
    payload = entry(f"(i32.const {value})")
    return payload, hashlib.sha256(payload).hexdigest()


def _entries(cache: ModuleCache) -> dict[Path, int]:
    return {path: path.stat().st_size for path in cache.directory.glob("*.cwasm")}


def test_the_least_recently_used_entries_go_first(tmp_path: Path) -> None:
    a, b, c = _module(1), _module(2), _module(3)
    ModuleCache(tmp_path).get(SPEC, *a)
    ModuleCache(tmp_path).get(SPEC, *b)
    sizes = _entries(ModuleCache(tmp_path))
    older, newer = sorted(sizes, key=lambda path: path.stat().st_mtime_ns)
    os.utime(older, ns=(1_000_000_000, 1_000_000_000))  # a written long ago: clearly the older entry
    os.utime(newer, ns=(2_000_000_000, 2_000_000_000))
    reader = ModuleCache(tmp_path)
    _, source = reader.get(SPEC, *a)  # a is used again: now b is the least recently used
    assert source == "disk"
    bound = max(sizes.values()) * 2 + max(sizes.values()) // 2  # room for two entries, not three
    writer = ModuleCache(tmp_path, max_disk_bytes=bound)
    writer.get(SPEC, *c)
    left = _entries(writer)
    assert len(left) == 2 and sum(left.values()) <= bound
    assert older in left and newer not in left, "b, the least recently used, went; a, just loaded, stayed"
    assert ModuleCache(tmp_path).get(SPEC, *a)[1] == "disk"
    assert ModuleCache(tmp_path).get(SPEC, *b)[1] == "compiled"


def test_the_bound_comes_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEABOX_CACHE_MAX_BYTES", "12345")
    assert ModuleCache(tmp_path).max_disk_bytes == 12345
