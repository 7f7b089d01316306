"""The contract of teabox.executor.wasmtime_private: each function, called directly.

After a wasmtime upgrade this is the test that says which part of the private
API moved; the rest of the executor's tests then say nothing new.
"""

from __future__ import annotations

import ctypes
import gc
import importlib.metadata
import mmap
import os
import subprocess
import sys
from pathlib import Path

import pytest
import wasmtime

from teabox.executor import wasmtime_private as wp

PAGE = 65536

_WAT = """
(module
  (import "env" "double" (func $double (param i32) (result i32)))
  (memory (export "memory") 1 4)
  (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
  (func (export "twice_sum") (param i32 i32) (result i32) (call $double (i32.add (local.get 0) (local.get 1))))
  (func (export "crash") (param i32 i32) (result i32) unreachable)
  (func (export "grow") (param i32 i32) (result i32) (memory.grow (local.get 0)))
)
"""


def _double(env: int, caller: object, values: wp.RawValues, count: int) -> int:
    if values[0].i32 < 0:
        return wp.new_trap(f"double refused {values[0].i32}")
    values[0].i32 = 2 * values[0].i32
    return 0


_DOUBLE = wp.unchecked_callback(_double)


def _linker(engine: wasmtime.Engine) -> wasmtime.Linker:
    linker = wasmtime.Linker(engine)
    i32 = wasmtime.ValType.i32()
    wp.define_unchecked_func(linker, "env", "double", wasmtime.FuncType([i32], [i32]), _DOUBLE)
    return linker


def _instance(engine: wasmtime.Engine | None = None) -> tuple[wasmtime.Store, wasmtime.Instance]:
    engine = engine or wasmtime.Engine()
    store = wasmtime.Store(engine)
    return store, _linker(engine).instantiate(store, wasmtime.Module(engine, _WAT))


def test_the_installed_wasmtime_is_the_one_the_module_was_written_for() -> None:
    assert wp.WASMTIME_VERSION == importlib.metadata.version("wasmtime") == wp.WRITTEN_FOR
    wp.check_version(wp.WRITTEN_FOR)


def test_another_wasmtime_version_is_refused_naming_both_versions() -> None:
    with pytest.raises(wp.WasmtimeVersionError) as refused:
        wp.check_version("51.0.0")
    message = str(refused.value)
    assert "51.0.0" in message and wp.WRITTEN_FOR in message and "wasmtime_private.py" in message
    assert isinstance(refused.value, ImportError)


def test_exports_are_found_by_name_and_kind() -> None:
    store, instance = _instance()
    memory = wp.export_memory(store, instance, "memory")
    assert isinstance(memory, wp.RawMemory)
    assert isinstance(wp.export_func(store, instance, "add"), wp.RawFunc)
    assert wp.export_memory(store, instance, "nothing") is None
    assert wp.export_func(store, instance, "nothing") is None
    assert wp.export_memory(store, instance, "add") is None  # a function, not a memory
    assert wp.export_func(store, instance, "memory") is None  # a memory, not a function


def test_memory_address_and_size_read_through_the_store_context() -> None:
    store, instance = _instance()
    raw = wp.export_memory(store, instance, "memory")
    assert raw is not None
    context = wp.store_context(store)
    assert context != 0 and context == wp.store_context(store)
    public = instance.exports(store)["memory"]
    assert isinstance(public, wasmtime.Memory)
    address = ctypes.addressof(raw)
    assert wp.memory_data_size(context, address) == PAGE == public.data_len(store)
    assert wp.memory_data(context, address) == ctypes.cast(public.data_ptr(store), ctypes.c_void_p).value
    ctypes.memmove(wp.memory_data(context, address) + 8, b"teabox", 6)
    assert public.read(store, 8, 14) == b"teabox"


def test_memory_object_is_the_same_memory() -> None:
    store, instance = _instance()
    raw = wp.export_memory(store, instance, "memory")
    assert raw is not None
    memory = wp.memory_object(raw)
    assert memory.grow(store, 2) == 1
    assert wp.memory_data_size(wp.store_context(store), ctypes.addressof(raw)) == 3 * PAGE


def test_call_returns_the_result_or_raises_the_trap() -> None:
    store, instance = _instance()
    add, crash = wp.export_func(store, instance, "add"), wp.export_func(store, instance, "crash")
    assert add is not None and crash is not None
    assert wp.call_i32_i32_to_i32(store, add, 40, 2) == 42
    assert wp.call_i32_i32_to_i32(store, add, 2**31 - 1, 1) == -(2**31)
    with pytest.raises(wasmtime.Trap) as trapped:
        wp.call_i32_i32_to_i32(store, crash, 0, 0)
    assert trapped.value.trap_code == wasmtime.TrapCode.UNREACHABLE
    assert [frame.func_index for frame in trapped.value.frames] == [3]


def test_an_unchecked_host_function_returns_through_its_values_or_fails_the_call_with_its_trap() -> None:
    store, instance = _instance()
    twice_sum = wp.export_func(store, instance, "twice_sum")
    assert twice_sum is not None
    assert wp.call_i32_i32_to_i32(store, twice_sum, 20, 1) == 42
    with pytest.raises(wasmtime.WasmtimeError, match="double refused -3") as failed:
        wp.call_i32_i32_to_i32(store, twice_sum, -4, 1)
    assert not isinstance(failed.value, wasmtime.Trap)


def test_defining_a_host_function_twice_raises_wasmtimes_error() -> None:
    linker = _linker(wasmtime.Engine())
    i32 = wasmtime.ValType.i32()
    with pytest.raises(wasmtime.WasmtimeError, match="double"):
        wp.define_unchecked_func(linker, "env", "double", wasmtime.FuncType([i32], [i32]), _DOUBLE)


class _Memories:
    """Linear memories in Python-owned mappings, each sized to what wasmtime reserves for it."""

    def __init__(self, refuse_above: int) -> None:
        self.refuse_above = refuse_above
        self.maps: dict[int, tuple[mmap.mmap, int, int]] = {}  # key -> (mapping, size, capacity)
        self.created: list[tuple[int, int]] = []
        self.released: list[int] = []
        self.creator = wp.MemoryCreator(self.new, self.get, self.grow, self.release)

    def new(self, minimum: int, maximum: int, reserved: int, guard: int, slot: wp.LinearMemorySlot) -> int:
        if minimum > self.refuse_above:
            return wp.new_error(f"no {minimum} bytes for you")
        capacity = reserved or maximum
        key = len(self.created) + 1
        self.created.append((minimum, maximum))
        self.maps[key] = (mmap.mmap(-1, capacity + guard), minimum, capacity)
        self.creator.fill(slot, key)
        return 0

    def get(self, key: int, size_out: wp.SizeSlot, capacity_out: wp.SizeSlot) -> int:
        mapping, size, capacity = self.maps[key]
        size_out[0], capacity_out[0] = size, capacity
        return ctypes.addressof(ctypes.c_char.from_buffer(mapping))

    def grow(self, key: int, new_size: int) -> int:
        mapping, _, capacity = self.maps[key]
        if new_size > min(capacity, self.refuse_above):
            return wp.new_error(f"grow to {new_size} refused")
        self.maps[key] = (mapping, new_size, capacity)
        return 0

    def release(self, key: int) -> None:
        self.released.append(key)


def _engine_with(memories: _Memories) -> wasmtime.Engine:
    config = wasmtime.Config()
    config.memory_init_cow = False
    config.memory_reservation = 4 * PAGE
    config.memory_guard_size = PAGE
    memories.creator.install(config)
    return wasmtime.Engine(config)


def test_a_memory_creator_allocates_grows_and_releases_every_linear_memory() -> None:
    memories = _Memories(refuse_above=2 * PAGE)
    store, instance = _instance(_engine_with(memories))
    assert memories.created == [(PAGE, 4 * PAGE)]
    grow = wp.export_func(store, instance, "grow")
    assert grow is not None
    assert wp.call_i32_i32_to_i32(store, grow, 1, 0) == 1  # old size in pages
    assert memories.maps[1][1] == 2 * PAGE
    assert wp.call_i32_i32_to_i32(store, grow, 1, 0) == -1  # the creator refused: memory.grow returns -1
    public = instance.exports(store)["memory"]
    assert isinstance(public, wasmtime.Memory)
    public.write(store, b"in our mapping", 100)
    assert memories.maps[1][0][100:114] == b"in our mapping"
    del store, instance, public, grow
    gc.collect()
    assert memories.released == [1]


def test_a_memory_creators_error_fails_instantiation_with_its_message() -> None:
    memories = _Memories(refuse_above=0)
    with pytest.raises(wasmtime.WasmtimeError, match=f"no {PAGE} bytes for you"):
        _instance(_engine_with(memories))


def test_the_executor_does_not_load_beside_another_wasmtime(tmp_path: Path) -> None:
    """An installation whose metadata says another wasmtime version: importing the executor fails, naming both."""
    info = tmp_path / "wasmtime-51.0.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: wasmtime\nVersion: 51.0.0\n")
    path = os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])
    done = subprocess.run(
        [sys.executable, "-c", "import teabox.executor"],
        env={**os.environ, "PYTHONPATH": path},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("teabox.executor.wasmtime_private.WasmtimeVersionError: ")
    assert f"uses private parts of wasmtime {wp.WRITTEN_FOR}, but wasmtime 51.0.0 is installed" in last
