"""What a run produced: a result or a classified failure, with its measurements."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from teabox.failure_kinds import FailureKind


@dataclass(frozen=True)
class Failure:
    kind: FailureKind
    message: str
    backtrace: list[str] = field(default_factory=list)


@dataclass
class FileStats:
    read: int = 0
    written: int = 0


@dataclass
class RunResult:
    """The outcome of one run. A trap is a failure, never a result."""

    return_value: str | None = None
    failure: Failure | None = None
    fuel_used: int | None = None
    wall_time: float = 0.0
    peak_memory: int = 0
    files: dict[str, FileStats] = field(default_factory=dict)
    diagnostics: list[str] = field(default_factory=list)
    module_source: str = ""  # "memory", "disk" or "compiled": where the compiled module came from

    @property
    def ok(self) -> bool:
        return self.failure is None

    @property
    def status(self) -> str:
        return "ok" if self.ok else "failed"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = self.status
        if self.failure is not None:
            data["failure"]["kind"] = self.failure.kind.value
        return data

    @classmethod
    def from_dict(cls, data: Any) -> RunResult:
        """The inverse of :meth:`to_dict`, checking every field: the data may come from a sandbox process.

        Raises ``ValueError`` (or ``TypeError``, ``KeyError``) naming what is malformed.
        """
        failure = data["failure"]
        return cls(
            return_value=_optional(data["return_value"], str, "return_value"),
            failure=None
            if failure is None
            else Failure(
                FailureKind(failure["kind"]),
                _typed(failure["message"], str, "failure.message"),
                [_typed(line, str, "failure.backtrace") for line in failure["backtrace"]],
            ),
            fuel_used=_optional(data["fuel_used"], int, "fuel_used"),
            wall_time=float(_typed(data["wall_time"], (int, float), "wall_time")),
            peak_memory=_typed(data["peak_memory"], int, "peak_memory"),
            files={
                _typed(name, str, "files"): FileStats(
                    _typed(stats["read"], int, "files.read"), _typed(stats["written"], int, "files.written")
                )
                for name, stats in data["files"].items()
            },
            diagnostics=[_typed(line, str, "diagnostics") for line in data["diagnostics"]],
            module_source=_typed(data["module_source"], str, "module_source"),
        )


def _typed(value: Any, kind: type | tuple[type, ...], field_name: str) -> Any:
    if not isinstance(value, kind) or isinstance(value, bool):
        raise TypeError(f"{field_name} has type {type(value).__name__}")
    return value


def _optional(value: Any, kind: type, field_name: str) -> Any:
    return None if value is None else _typed(value, kind, field_name)
