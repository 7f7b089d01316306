"""Why a build failed, in words a payload author can act on.

Every failure carries the tool's own output (so nothing the compiler said is
lost) and, where teabox recognises the mistake, the fix.
"""

from __future__ import annotations

from teabox.errors import TeaboxError


class BuildError(TeaboxError):
    """A payload could not be built: a bad source list, a compile or link error, or an ABI violation."""

    def __init__(self, summary: str, *, output: str = "", fixes: list[str] | None = None) -> None:
        self.summary = summary
        self.output = output.rstrip()
        self.fixes = list(fixes or [])
        parts = [summary]
        if self.output:
            parts.append(self.output)
        parts.extend(f"fix: {fix}" for fix in self.fixes)
        super().__init__("\n".join(parts))


class ToolchainMissing(BuildError):
    """The compiler a language needs is not installed; ``fixes`` says exactly what to install."""
