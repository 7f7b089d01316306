"""teabox: run untrusted WebAssembly functions on other people's private data.

The names below are imported on first use, so that ``import teabox`` (and the
``teabox`` command) stays fast for commands that need none of them. Type checkers
read the ``TYPE_CHECKING`` imports instead, so ``from teabox import Executor`` is
fully typed.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from teabox.abi.check import ModuleReport, check, inspect
    from teabox.errors import InvalidArguments, InvalidPayload, TeaboxError
    from teabox.executor import (
        Executor,
        FailureKind,
        FileInputs,
        FileOutputs,
        Limits,
        MemoryInputs,
        MemoryOutputs,
        RunResult,
    )

__version__ = "0.1.0"

__all__ = [
    "Executor",
    "FailureKind",
    "FileInputs",
    "FileOutputs",
    "InvalidArguments",
    "InvalidPayload",
    "Limits",
    "MemoryInputs",
    "MemoryOutputs",
    "ModuleReport",
    "RunResult",
    "TeaboxError",
    "check",
    "inspect",
]

_EXPORTS = {
    "inspect": "teabox.abi.check",
    "check": "teabox.abi.check",
    "ModuleReport": "teabox.abi.check",
    "Executor": "teabox.executor",
    "Limits": "teabox.executor",
    "RunResult": "teabox.executor",
    "FailureKind": "teabox.executor",
    "FileInputs": "teabox.executor",
    "FileOutputs": "teabox.executor",
    "MemoryInputs": "teabox.executor",
    "MemoryOutputs": "teabox.executor",
    "TeaboxError": "teabox.errors",
    "InvalidPayload": "teabox.errors",
    "InvalidArguments": "teabox.errors",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'teabox' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
