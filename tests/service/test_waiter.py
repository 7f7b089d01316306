"""The long-poll waiter: an ending between a look and its wait is not missed; one look answers many waits."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from teabox.platform.context import Actor
from teabox.platform.notify import SocketNotifier, Topic
from teabox.platform.roles import Role, RoleKind
from teabox.service.waiter import ResultWaiter

ALICE = Actor("alice", Role(RoleKind.DATA_OWNER, "bank"))
BOB = Actor("bob", Role(RoleKind.DATA_OWNER, "bank"))
HANG_GUARD = 60.0  # only keeps a broken waiter from hanging the suite: no answer comes from the safety poll
PROBES = 10_000


class Tasks:
    """What the database would say: the ended tasks, and every look the waiter took."""

    def __init__(self) -> None:
        self.ended: set[str] = set()
        self.looks: list[list[tuple[str, str]]] = []

    async def ended_results(self, waits: list[tuple[str, Actor]]) -> list[dict[str, Any] | None]:
        self.looks.append([(task, viewer.user_id) for task, viewer in waits])
        return [{"task_id": task, "for": viewer.user_id} if task in self.ended else None for task, viewer in waits]


async def _poked(waiter: ResultWaiter, mark: int) -> None:
    """Let the event loop take in a wake-up sent after ``mark``."""
    for _ in range(PROBES):
        if waiter.mark() != mark:
            return
        await asyncio.sleep(0.001)
    raise AssertionError("the wake-up never arrived")


def _waiter(tmp_path: Path, tasks: Tasks) -> tuple[ResultWaiter, SocketNotifier]:
    notifier = SocketNotifier(tmp_path / "wake")
    return ResultWaiter(tasks.ended_results, notifier, max_waits=10, max_waits_per_user=10), notifier


def test_a_task_that_ends_between_the_look_and_the_wait_is_answered(tmp_path: Path) -> None:
    tasks = Tasks()
    waiter, notifier = _waiter(tmp_path, tasks)

    async def scenario() -> dict[str, Any] | None:
        waiter.start()
        waiter._listener.poll_seconds = 3600  # type: ignore[union-attr]  # no safety poll: only wake-ups count
        other = waiter.expect("t0", waiter.mark(), BOB)  # another wait keeps the watcher at work
        mark = waiter.mark()  # the caller looks: t1 is still running
        tasks.ended.add("t1")  # ... and ends, its wake-up arriving before the caller starts to wait
        notifier.notify(Topic.RESULTS)
        await _poked(waiter, mark)
        for _ in range(PROBES):  # the watcher takes the wake-up for the waits it has: t0's, not yet t1's
            if tasks.looks:
                break
            await asyncio.sleep(0.001)
        assert tasks.looks == [[("t0", "bob")]]
        future = waiter.expect("t1", mark, ALICE)
        try:
            return await waiter.wait(future, HANG_GUARD)
        finally:
            waiter.forget("t1", future)
            waiter.forget("t0", other)
            await waiter.close()

    assert asyncio.run(scenario()) == {"task_id": "t1", "for": "alice"}
    notifier.close()


def test_one_look_answers_every_wait_whose_task_ended(tmp_path: Path) -> None:
    tasks = Tasks()
    waiter, notifier = _waiter(tmp_path, tasks)

    async def scenario() -> list[dict[str, Any] | None]:
        waiter.start()
        waiter._listener.poll_seconds = 3600  # type: ignore[union-attr]
        mark = waiter.mark()
        waits = [("t1", ALICE), ("t1", BOB), ("t2", BOB), ("t3", ALICE)]
        futures = [waiter.expect(task, mark, viewer) for task, viewer in waits]
        tasks.ended.update({"t1", "t2"})
        notifier.notify(Topic.RESULTS)
        answers = await asyncio.gather(*(waiter.wait(f, HANG_GUARD) for f in futures[:3]))
        unanswered = await waiter.wait(futures[3], 0.01)  # t3 never ended
        for (task, _), future in zip(waits, futures, strict=True):
            waiter.forget(task, future)
        await waiter.close()
        return [*answers, unanswered]

    assert asyncio.run(scenario()) == [
        {"task_id": "t1", "for": "alice"},
        {"task_id": "t1", "for": "bob"},
        {"task_id": "t2", "for": "bob"},
        None,
    ]
    answering = [look for look in tasks.looks if ("t1", "alice") in look]
    assert answering == [[("t1", "alice"), ("t1", "bob"), ("t2", "bob"), ("t3", "alice")]], tasks.looks
    notifier.close()
