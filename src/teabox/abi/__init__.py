"""The guest ABI: what a payload is and what the host promises it.

Pure logic with no I/O: module checks, argv encoding, the handle table and the
semantics of the five ``teaclave_*`` host functions.
"""

from teabox.abi.check import (
    DEFAULT_MAX_PAYLOAD_BYTES,
    HOST_FUNCTIONS,
    ModuleReport,
    check,
    inspect,
)

__all__ = [
    "DEFAULT_MAX_PAYLOAD_BYTES",
    "HOST_FUNCTIONS",
    "ModuleReport",
    "check",
    "inspect",
]
