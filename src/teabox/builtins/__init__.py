"""Teaclave's built-in functions, rebuilt as WebAssembly payloads that ship with teabox.

Teaclave ran its built-ins natively inside its executor. Here each one is a
C payload (``src/``) built with ``teabox build`` into ``wasm/``, so it runs
in the same sandbox, under the same limits, as any registered function. A
function registered with ``executor_type="builtin"`` and one of these names
gets the bundled module as its payload.
"""

from teabox.builtins.catalog import BUILTINS, Builtin, find

__all__ = ["BUILTINS", "Builtin", "find"]
