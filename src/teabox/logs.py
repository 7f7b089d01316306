"""How teabox's log lines look (text or JSON), and the task fields every line about a task carries.

``teabox serve`` and ``teabox worker`` call :func:`configure_logging` once. It
also writes the chosen level and format into the environment, so the worker
processes they spawn (which start from scratch) configure themselves the same
way with :func:`configure_from_environment`.

A line about a task names it as fields, not only in its text: code running a
task opens :func:`task_fields` around the work, and every record logged in that
thread meanwhile gets ``task_id``, ``attempt`` and ``worker_id``; a line logged
elsewhere about a task passes them itself (``extra=task_extra(...)``). With
``--log-format json`` they are the JSON object's own keys, so a log store can
select every line of one task.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

from teabox import config

LogFormat = Literal["text", "json"]
LOG_FORMATS: tuple[LogFormat, ...] = ("text", "json")
_TEXT = "%(asctime)s %(name)s %(levelname)s %(message)s"
_JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(message)s"

_task: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("teabox_task_fields", default=None)


def task_extra(task_id: str, attempt: int | None = None, worker_id: str | None = None) -> dict[str, Any]:
    """The fields of a line about one task, for ``extra=``; unknown ones are left out."""
    fields: dict[str, Any] = {"task_id": task_id}
    if attempt is not None:
        fields["attempt"] = attempt
    if worker_id is not None:
        fields["worker_id"] = worker_id
    return fields


@contextmanager
def task_fields(task_id: str, attempt: int | None = None, worker_id: str | None = None) -> Iterator[None]:
    """Every record logged in this context (this thread, this task) carries the task's fields."""
    token = _task.set(task_extra(task_id, attempt, worker_id))
    try:
        yield
    finally:
        _task.reset(token)


class _TaskFields(logging.Filter):
    """Copies the current task's fields (and this process's worker id) onto each record it passes."""

    def __init__(self, worker_id: str | None) -> None:
        super().__init__()
        self._worker_id = worker_id

    def filter(self, record: logging.LogRecord) -> bool:
        fields = _task.get()
        if fields is not None:
            for key, value in fields.items():
                if not hasattr(record, key):
                    setattr(record, key, value)
        if self._worker_id is not None and not hasattr(record, "worker_id"):
            record.worker_id = self._worker_id
        return True


def _formatter(log_format: LogFormat, worker_id: str | None) -> logging.Formatter:
    if log_format == "json":
        from pythonjsonlogger.core import RESERVED_ATTRS
        from pythonjsonlogger.json import JsonFormatter

        return JsonFormatter(
            _JSON_FIELDS,
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            reserved_attrs=[*RESERVED_ATTRS, "color_message"],  # uvicorn's copy of its message with terminal colours
        )
    if worker_id is not None:  # a worker process's text lines say which worker wrote them
        return logging.Formatter(_TEXT.replace("%(name)s", worker_id.replace("%", "%%") + " %(name)s"))
    return logging.Formatter(_TEXT)


def configure_logging(level: str, log_format: LogFormat, *, worker_id: str | None = None) -> None:
    """Send every log line to stderr in ``log_format`` at ``level``, for this process and the ones it spawns."""
    handler = logging.StreamHandler()
    handler.setFormatter(_formatter(log_format, worker_id))
    handler.addFilter(_TaskFields(worker_id))
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    config.LOG_FORMAT.set(log_format)
    config.LOG_LEVEL.set(level)


def configure_from_environment(worker_id: str) -> None:
    """A spawned worker process: the level and format its parent chose (warning, text if none)."""
    log_format: LogFormat = "json" if config.LOG_FORMAT.get() == "json" else "text"
    configure_logging(config.LOG_LEVEL.get() or "warning", log_format, worker_id=worker_id)
