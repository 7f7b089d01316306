"""The compute kernels: their sources, sizes and work models.

Each kernel takes one size ``n``. ``full`` makes it run for roughly 0.2-0.5 s
natively on the reference machine (2 cores), ``quick`` for roughly 20 ms, and
``tiny`` is small enough for the pure-Python interpreter (pywasm, about
10^5 times slower than native code) to finish in under a second. Interpreter
results are compared with native code at the *same* size, measured in the
same run, and extrapolated to the full size with the kernel's work model.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

KERNEL_DIR = Path(__file__).resolve().parent / "kernels"
NATIVE_MAIN = KERNEL_DIR / "native_main.c"


@dataclass(frozen=True)
class Kernel:
    name: str
    what: str  # what the kernel exercises, for the report
    full: int
    quick: int
    tiny: int
    work: Callable[[int], float]  # proportional to the operations done at size n

    @property
    def source(self) -> Path:
        return KERNEL_DIR / f"{self.name}.c"

    def size(self, tier: str) -> int:
        return {"full": self.full, "quick": self.quick, "tiny": self.tiny}[tier]


def _fib_calls(n: int) -> float:
    phi = (1 + 5**0.5) / 2
    return phi**n


KERNELS: tuple[Kernel, ...] = (
    Kernel(
        "sieve",
        "segmented prime sieve up to n: strided byte stores, branches",
        full=200_000_000,
        quick=20_000_000,
        tiny=10_000,
        work=lambda n: n * math.log(math.log(max(n, 16))),
    ),
    Kernel(
        "matmul",
        "n x n double-precision matrix multiply: floating point, streaming loads",
        full=1000,
        quick=400,
        tiny=24,
        work=lambda n: float(n) ** 3,
    ),
    Kernel(
        "sha256",
        "SHA-256 of a 1 KiB message chained n times: 32-bit rotates and adds",
        full=90_000,
        quick=6_000,
        tiny=2,
        work=lambda n: n + 0.1,
    ),  # making the message costs ~0.1 hash
    Kernel("fib", "naive recursive Fibonacci of n: calls and returns", full=41, quick=36, tiny=20, work=_fib_calls),
    Kernel(
        "sort",
        "quicksort of n pseudo-random 32-bit integers: data-dependent branches",
        full=3_000_000,
        quick=300_000,
        tiny=1_000,
        work=lambda n: n * math.log2(max(n, 2)),
    ),
    Kernel(
        "search",
        "Boyer-Moore-Horspool search of n patterns in 4 KiB of text: byte loads, table lookups",
        full=40_000,
        quick=3_000,
        tiny=4,
        work=lambda n: n + 3.0,
    ),  # making the text costs ~3 searches
)


def kernel(name: str) -> Kernel:
    for k in KERNELS:
        if k.name == name:
            return k
    raise KeyError(f"no kernel named {name!r} (kernels: {', '.join(k.name for k in KERNELS)})")
