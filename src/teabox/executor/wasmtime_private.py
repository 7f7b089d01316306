"""Everything teabox takes from wasmtime-py beyond its public API, in one place.

The executor needs what the high-level bindings do not offer: host functions
in wasmtime's raw ("unchecked") calling convention, which make a call from
wasm into Python cheap; linear memories that teabox allocates itself, so that
a refused ``memory.grow`` is seen; and direct reads of a memory's address and
size on every host call. Those go through wasmtime-py's ctypes layer
(``wasmtime._ffi``) and private constructors (``Trap._from_ptr``,
``Memory._from_raw``, ``Store._context()``), which may change in any release.

So this module is written for one wasmtime version and refuses any other at
import, naming both; ``tests/executor/test_wasmtime_private.py`` calls each
function here directly. Upgrading wasmtime means changing this file until
that test passes, and nothing else. Functions on the hot path (a host call)
are bound once at import, so callers pay no extra indirection.
"""

from __future__ import annotations

import ctypes
import importlib.metadata
from collections.abc import Callable

import wasmtime

WRITTEN_FOR = "50.0.1"
WASMTIME_VERSION = importlib.metadata.version("wasmtime")


class WasmtimeVersionError(ImportError):
    """The installed wasmtime is not the version whose private API this module uses."""


def check_version(installed: str) -> None:
    """Refuse any wasmtime but the one this module was written for: its private API has no stability promise."""
    if installed != WRITTEN_FOR:
        raise WasmtimeVersionError(
            f"teabox's executor uses private parts of wasmtime {WRITTEN_FOR}, but wasmtime {installed} is installed: "
            f"install wasmtime=={WRITTEN_FOR}, or port teabox/executor/wasmtime_private.py to {installed} "
            "and run tests/executor/test_wasmtime_private.py"
        )


check_version(WASMTIME_VERSION)

from wasmtime import _ffi as ffi  # noqa: E402  (only once the version is known to have it)

# -- types the executor handles ------------------------------------------------

RawMemory = ffi.wasmtime_memory_t
"""A store's linear memory as the C API names it (``wasmtime_memory_t``)."""
RawFunc = ffi.wasmtime_func_t
"""A store's function as the C API names it (``wasmtime_func_t``)."""
RawValues = ctypes.Array[ffi.wasmtime_val_raw]
"""The arguments of an unchecked host call, overwritten with its results (each has ``.i32``)."""
LinearMemorySlot = ctypes.Array[ffi.wasmtime_linear_memory_t]
"""Where a memory creator puts the memory it made (see :class:`MemoryCreator`)."""
SizeSlot = ctypes.Array[ctypes.c_size_t]

UncheckedHostFunction = Callable[[int, object, RawValues, int], int]
"""``(env, caller, values, count) -> trap address or 0``: a host function in the raw calling convention."""

_NO_FINALIZER = ctypes.CFUNCTYPE(None, ctypes.c_void_p)()

# -- the hot path: a host call reads the memory's address and size ---------------

# Our own prototypes for these two, returning plain integers: (context address, memory address) -> int.
memory_data: Callable[[int, int], int] = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p)(
    ("wasmtime_memory_data", ffi.dll)
)
memory_data_size: Callable[[int, int], int] = ctypes.CFUNCTYPE(ctypes.c_size_t, ctypes.c_void_p, ctypes.c_void_p)(
    ("wasmtime_memory_data_size", ffi.dll)
)


def store_context(store: wasmtime.Store) -> int:
    """The address of ``store``'s ``wasmtime_context_t``, valid as long as the store."""
    return ctypes.cast(store._context(), ctypes.c_void_p).value or 0


# -- host functions ----------------------------------------------------------------


def new_trap(message: str) -> int:
    """The address of a new trap with ``message``, for a host function to return (wasmtime takes ownership)."""
    raw = message.encode("utf-8")
    trap = ffi.wasmtime_trap_new(ctypes.create_string_buffer(raw), len(raw))
    return ctypes.cast(trap, ctypes.c_void_p).value or 0


def unchecked_callback(function: UncheckedHostFunction) -> object:
    """``function`` as a C callback for :func:`define_unchecked_func`; keep it alive as long as any linker using it."""
    callback: object = ffi.wasmtime_func_unchecked_callback_t(function)
    return callback


def define_unchecked_func(
    linker: wasmtime.Linker, module: str, name: str, ty: wasmtime.FuncType, callback: object
) -> None:
    """Define ``module.name`` in ``linker`` as ``callback`` (from :func:`unchecked_callback`)."""
    raw_module, raw_name = module.encode(), name.encode()
    error = ffi.wasmtime_linker_define_func_unchecked(
        linker.ptr(), raw_module, len(raw_module), raw_name, len(raw_name), ty.ptr(), callback, None, _NO_FINALIZER
    )
    if error:
        raise wasmtime.WasmtimeError._from_ptr(error)


# -- an instance's exports, and calling one ----------------------------------------


def _export(store: wasmtime.Store, instance: wasmtime.Instance, name: str, kind: int) -> ffi.wasmtime_extern_t | None:
    item = ffi.wasmtime_extern_t()
    raw = name.encode()
    found = ffi.wasmtime_instance_export_get(
        store._context(), ctypes.byref(instance._instance), raw, len(raw), ctypes.byref(item)
    )
    # wasmtime's bindings annotate ``kind`` as c_uint8, but ctypes reads a c_uint8 field as an int.
    return item if found and item.kind == kind else None  # type: ignore[comparison-overlap]


def export_memory(store: wasmtime.Store, instance: wasmtime.Instance, name: str) -> RawMemory | None:
    """The memory ``instance`` exports as ``name``, or None if it exports no memory by that name."""
    item = _export(store, instance, name, ffi.WASMTIME_EXTERN_MEMORY.value)
    return None if item is None else item.of.memory


def export_func(store: wasmtime.Store, instance: wasmtime.Instance, name: str) -> RawFunc | None:
    """The function ``instance`` exports as ``name``, or None if it exports no function by that name."""
    item = _export(store, instance, name, ffi.WASMTIME_EXTERN_FUNC.value)
    return None if item is None else item.of.func


def memory_object(memory: RawMemory) -> wasmtime.Memory:
    """``memory`` as wasmtime-py's :class:`wasmtime.Memory`, for its grow and data methods."""
    return wasmtime.Memory._from_raw(memory)


def call_i32_i32_to_i32(store: wasmtime.Store, func: RawFunc, first: int, second: int) -> int:
    """Call ``func(i32, i32) -> i32`` without the bindings' type checks and conversions (the caller checked the type).

    Raises :class:`wasmtime.Trap` if the call trapped and :class:`wasmtime.WasmtimeError` if it failed
    otherwise (a host function's trap comes back as such an error).
    """
    values = (ffi.wasmtime_val_raw * 2)()
    values[0].i32 = first
    values[1].i32 = second
    trap = ctypes.POINTER(ffi.wasm_trap_t)()
    error = ffi.wasmtime_func_call_unchecked(store._context(), ctypes.byref(func), values, 2, ctypes.byref(trap))
    if trap:
        raise wasmtime.Trap._from_ptr(trap)
    if error:
        raise wasmtime.WasmtimeError._from_ptr(error)
    result: int = values[0].i32
    return result


# -- linear memories the embedder allocates ----------------------------------------


def new_error(message: str) -> int:
    """The address of a new error with ``message``, for a memory-creator callback to return."""
    raw = message.encode()
    return ctypes.cast(ffi.wasmtime_error_new(ctypes.create_string_buffer(raw)), ctypes.c_void_p).value or 0


NewMemory = Callable[[int, int, int, int, LinearMemorySlot], int]
"""``(minimum, maximum, reserved, guard, slot) -> 0 or error address``; success calls :meth:`MemoryCreator.fill`."""
GetMemory = Callable[[int, SizeSlot, SizeSlot], int]
"""``(key, size out, capacity out) -> base address``."""
GrowMemory = Callable[[int, int], int]
"""``(key, new size in bytes) -> 0 or error address``."""
ReleaseMemory = Callable[[int], None]
"""``(key)``: wasmtime is done with the memory."""


class MemoryCreator:
    """wasmtime's memory-creator hooks bound to Python functions; keep it alive as long as any engine using it.

    A memory is known to the hooks by the integer key that ``new_memory`` gives :meth:`fill`.
    """

    def __init__(self, new_memory: NewMemory, get: GetMemory, grow: GrowMemory, release: ReleaseMemory) -> None:
        def create(
            env: int, memory_type: object, minimum: int, maximum: int, reserved: int, guard: int, slot: LinearMemorySlot
        ) -> int:
            return new_memory(minimum, maximum, reserved, guard, slot)

        self._get = ffi.wasmtime_memory_get_callback_t(get)
        self._grow = ffi.wasmtime_memory_grow_callback_t(grow)
        self._release = ctypes.CFUNCTYPE(None, ctypes.c_void_p)(release)
        self._creator = ffi.wasmtime_memory_creator_t(None, ffi.wasmtime_new_memory_callback_t(create), _NO_FINALIZER)

    def fill(self, slot: LinearMemorySlot, key: int) -> None:
        """Hand wasmtime the memory known as ``key``."""
        slot[0] = ffi.wasmtime_linear_memory_t(key, self._get, self._grow, self._release)

    def install(self, config: wasmtime.Config) -> None:
        """Make every linear memory of engines built from ``config`` come from these hooks."""
        ffi.wasmtime_config_host_memory_creator_set(config.ptr(), ctypes.byref(self._creator))
