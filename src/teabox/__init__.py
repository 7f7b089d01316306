"""teabox: run untrusted WebAssembly functions on other people's private data.

The names below are imported on first use, so that ``import teabox`` (and the
``teabox`` command) stays fast for commands that need none of them.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

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

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'teabox' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
