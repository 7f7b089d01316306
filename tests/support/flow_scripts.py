"""Load the example flow scripts from ``examples/flows`` so the tests run exactly what users run."""

from __future__ import annotations

import importlib.util
from types import ModuleType

from support.examples import EXAMPLES

FLOWS_DIR = EXAMPLES / "flows"

# After an invoke the task is somewhere on its way; which state depends on how fast a worker claims it.
IN_FLIGHT = {"Staged", "Running", "Finished"}

PSI_COMMON = [
    "1SZAD1OQPELAG5UU",
    "DZSG168P1F6RI79G",
    "I19L8FHJN3DHVMV5",
    "M3AUONYLXUZWS9V2",
    "P950PQRHNSB0RD13",
    "UYYAL5KKMUCKHSUR",
]
JOIN_RESULT = "c, 470000\ne, 5033000\n"


def load_flow(name: str) -> ModuleType:
    path = FLOWS_DIR / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"teabox_example_flow_{name}", path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
