"""The knobs of a build that change the module produced, and so its cache key."""

from __future__ import annotations

from dataclasses import dataclass

# 1 MiB, as Rust's wasm32 target uses: deep enough for recursive payloads, and
# placed below the data (stack-first) so an overflow traps instead of
# silently overwriting globals.
STACK_SIZE = 1024 * 1024
ENTRYPOINT = "entrypoint"


@dataclass(frozen=True)
class BuildOptions:
    """``size`` favours a small module over speed; ``simd`` lets the compiler vectorise.

    SIMD is on by default because wasmtime runs it natively and loops over
    bytes get markedly faster; turn it off only for engines without SIMD.
    """

    size: bool = False
    simd: bool = True

    @property
    def goal(self) -> str:
        return "size" if self.size else "speed"
