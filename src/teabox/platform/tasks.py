"""Tasks: creation, data assignment, approval, invocation, cancellation and reading results.

Teaclave's rules, with its faults fixed: a run that fails ends ``Failed`` with
a kind and a reason (never ``Finished``); the allowlist is checked by user id;
an output that holds a cmac, or is bound to another task still alive, cannot
be assigned (outputs are write-once); a disabled function cannot be used; the
admin may read every task (the operator sees everything anyway, so hiding it
would be pretence) and cancel it, but not approve or invoke for others; a
task runs the payload it was created with, so an owner cannot swap the code
after the data owners approved it.
"""

from __future__ import annotations

from typing import Any, NoReturn, Protocol

from sqlalchemy import Connection, Row, and_, bindparam, exists, func, select, update

from teabox.platform.context import Actor, Ctx, new_id, operation
from teabox.platform.errors import Invalid, NoSuchObject, NotPermitted, StateConflict
from teabox.platform.files import get_file_row, owners_of, pending_consent, refuse_spent_output
from teabox.platform.functions import executor_name, get_function_row, may_use
from teabox.platform.models import DataFile, Function, Task, TaskData, TaskParticipant
from teabox.platform.notify import Topic
from teabox.platform.ordering import codepoint
from teabox.platform.states import ENDED, WAITING, TaskStatus, check_transition, refuse
from teabox.platform.timefmt import iso
from teabox.platform.users import unknown_users

_S = TaskStatus
ARGUMENT_TYPES = (str, int, float, bool)


def get_task_row(ctx: Ctx, task_id: str, *, lock: bool = False) -> Task:
    """The task; ``lock`` holds its row until the transaction ends (see :func:`_task_for`)."""
    task = ctx.session.get(Task, task_id, with_for_update=lock)
    if task is None:
        raise NoSuchObject(f"there is no task '{task_id}'", "unknown_task")
    return task


def participants(ctx: Ctx, task_id: str) -> dict[str, bool]:
    """user id -> whether they approved, as flushed to the transaction so far (a Core read, no autoflush)."""
    rows = ctx.session.connection().execute(_PARTICIPANTS, {"task": task_id})
    return {user: approved for user, approved in rows}


# Statements every task runs (invoke, get_task_result), built once with bound parameters: building a
# statement and computing its cache key would cost more than executing it.
_PARTICIPANTS = select(TaskParticipant.user_id, TaskParticipant.approved).where(
    TaskParticipant.task_id == bindparam("task")
)
_TO_INVOKE = (
    select(Task.creator, Task.status, Task.function_id, Task.inputs_ownership, Task.outputs_ownership)
    .where(Task.id == bindparam("task"))
    .with_for_update()  # a second invoke waits here and then sees Staged (or Running): no double count, no re-stage
)
_COUNT_USE = (
    update(Function.__table__)
    .where(Function.id == bindparam("function"), Function.disabled.is_(False))
    .where((Function.usage_quota.is_(None)) | (Function.usage_count < Function.usage_quota))
    .values(usage_count=Function.usage_count + 1)
)
_STAGE = (
    update(Task.__table__)
    .where(Task.id == bindparam("task"))
    .values(status=TaskStatus.STAGED.value, staged_at=bindparam("now"), updated_at=bindparam("now"))
)
_QUEUED_BY = select(func.count()).where(Task.status == TaskStatus.STAGED.value, Task.creator == bindparam("user"))
_RESULT_COLUMNS = (
    Task.id,
    Task.status,
    Task.return_value,
    Task.tags,
    Task.failure_kind,
    Task.reason,
    Task.metrics,
    Task.inputs_ownership,
    Task.outputs_ownership,
)
_RESULT = select(*_RESULT_COLUMNS).where(Task.id == bindparam("task"))
_ENDED_RESULTS = select(*_RESULT_COLUMNS).where(
    Task.id.in_(bindparam("ids", expanding=True)), Task.status.in_([status.value for status in ENDED])
)
_RESULT_AND_PART = select(
    *_RESULT_COLUMNS,
    select(TaskParticipant.user_id)
    .where(TaskParticipant.task_id == Task.id, TaskParticipant.user_id == bindparam("user"))
    .exists()
    .label("taking_part"),
).where(Task.id == bindparam("task"))


def _is_participant(ctx: Ctx, task_id: str) -> bool:
    return ctx.session.get(TaskParticipant, (task_id, ctx.user.user_id)) is not None


def _task_for(ctx: Ctx, task_id: str, action: str, *, admin_reads: bool = False, lock: bool = False) -> Task:
    """The task, if the caller takes part in it (or is the admin and ``admin_reads``).

    Operations that change a task pass ``lock``: on PostgreSQL the row stays
    locked until they commit, so two changes of one task (two approvals, an
    assignment and an invoke, a cancel and a worker's finish) run one after
    the other, each seeing what the other committed, as SQLite's single writer
    makes them anyway.
    """
    ctx.object_id = task_id
    task = get_task_row(ctx, task_id, lock=lock)
    if not (_is_participant(ctx, task_id) or (admin_reads and ctx.user.role.is_admin)):
        raise _outsider(task_id, action)
    return task


def _outsider(task_id: str, action: str) -> NotPermitted:
    return NotPermitted(f"you do not take part in {task_id}, so you may not {action} it")


def _bindings(ctx: Ctx, task_id: str) -> dict[tuple[str, str], str]:
    rows = ctx.session.execute(
        select(TaskData.direction, TaskData.data_name, TaskData.file_id).where(TaskData.task_id == task_id)
    )
    return {(direction, name): file_id for direction, name, file_id in rows}


class _DeclaresData(Protocol):
    """A task's declared data names: the ORM ``Task`` or a Core row that selected those columns."""

    @property
    def inputs_ownership(self) -> dict[str, list[str]]: ...

    @property
    def outputs_ownership(self) -> dict[str, list[str]]: ...


def _data_complete(task: _DeclaresData, bound: dict[tuple[str, str], str]) -> bool:
    return all(("input", name) in bound for name in task.inputs_ownership) and all(
        ("output", name) in bound for name in task.outputs_ownership
    )


def _missing_data(task: _DeclaresData, bound: dict[tuple[str, str], str]) -> list[str]:
    return [name for name in task.inputs_ownership if ("input", name) not in bound] + [
        name for name in task.outputs_ownership if ("output", name) not in bound
    ]


def _set_status(task: Task, target: TaskStatus, action: str, now: float) -> None:
    current = TaskStatus(task.status)
    if current is not target:
        check_transition(current, target, action)
        task.status = target.value
    task.updated_at = now


# -- creation --------------------------------------------------------------------------------


def _merge_arguments(function: Function, given: dict[str, Any]) -> dict[str, Any]:
    overwritable = {a["key"] for a in function.arguments if a.get("allow_overwrite", True)}
    missing, extra = sorted(overwritable - set(given)), sorted(set(given) - overwritable)
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing)}")
        if extra:
            parts.append(f"not overwritable or unknown: {', '.join(extra)}")
        raise Invalid(
            "function_arguments must set exactly the function's overwritable arguments (" + "; ".join(parts) + ")",
            "invalid_arguments",
        )
    for key, value in given.items():
        if not isinstance(value, ARGUMENT_TYPES) or (isinstance(value, str) and "\x00" in value):
            raise Invalid(
                f"argument '{key}' must be a string, number or boolean without NUL bytes", "invalid_arguments"
            )
    merged = {a["key"]: a.get("default_value", "") for a in function.arguments if not a.get("allow_overwrite", True)}
    merged.update(given)
    return dict(sorted(merged.items()))


def _ownership(
    ctx: Ctx, kind: str, declared: list[dict[str, Any]], given: list[dict[str, Any]]
) -> dict[str, list[str]]:
    names = {d["name"] for d in declared}
    required = {d["name"] for d in declared if not d.get("optional", False)}
    result: dict[str, list[str]] = {}
    for entry in given:
        name, uids = entry["data_name"], sorted(set(entry["uids"]))
        if name not in names:
            raise Invalid(f"the function declares no {kind} named '{name}'", "invalid_ownership")
        if name in result:
            raise Invalid(f"{kind} '{name}' appears twice in {kind}s_ownership", "invalid_ownership")
        if not uids:
            raise Invalid(f"{kind} '{name}' needs at least one owner", "invalid_ownership")
        result[name] = uids
    missing = sorted(required - set(result))
    if missing:
        raise Invalid(f"{kind}s_ownership must name an owner for {', '.join(missing)}", "invalid_ownership")
    unknown = unknown_users(ctx, (uid for uids in result.values() for uid in uids))
    if unknown:
        raise Invalid(f"{kind}s_ownership names unknown users: {', '.join(unknown)}", "invalid_ownership")
    return dict(sorted(result.items()))


@operation("create_task")
def create_task(
    ctx: Ctx,
    *,
    function_id: str,
    function_arguments: dict[str, Any],
    executor: str,
    inputs_ownership: list[dict[str, Any]],
    outputs_ownership: list[dict[str, Any]],
) -> dict[str, Any]:
    ctx.object_id = function_id
    function = get_function_row(ctx, function_id)
    if not may_use(ctx, function):
        raise NotPermitted(f"the function {function_id} is private and you are not on its allowlist")
    if function.disabled:
        raise StateConflict(f"the function {function_id} is disabled", "function_disabled")
    if executor_name(executor) != function.executor_type:
        raise Invalid(
            f"executor '{executor}' does not run functions of type '{function.executor_type}'", "invalid_executor"
        )
    arguments = _merge_arguments(function, function_arguments)
    inputs = _ownership(ctx, "input", function.inputs, inputs_ownership)
    outputs = _ownership(ctx, "output", function.outputs, outputs_ownership)
    people = {uid for uids in (*inputs.values(), *outputs.values()) for uid in uids} | {ctx.user.user_id}
    if not function.public:
        people.add(function.owner)
    task = Task(
        id=new_id("task"),
        creator=ctx.user.user_id,
        function_id=function.id,
        function_owner=function.owner,
        executor=function.executor_type,
        payload_sha256=function.payload_sha256,
        limits=dict(function.limits),
        function_arguments=arguments,
        inputs_ownership=inputs,
        outputs_ownership=outputs,
        status=_S.CREATED.value,
        attempt=0,
        created_at=ctx.now,
        updated_at=ctx.now,
    )
    ctx.session.add(task)
    ctx.session.flush()
    ctx.session.add_all(TaskParticipant(task_id=task.id, user_id=user, approved=False) for user in sorted(people))
    ctx.object_id = task.id
    ctx.note = f"function {function_id}"
    return {"task_id": task.id}


# -- assignment, approval, invocation, cancel ---------------------------------------------------


def _output_in_use(ctx: Ctx, file_id: str) -> bool:
    """Whether another task that has not failed or been canceled already has this output bound."""
    alive = [s.value for s in TaskStatus if s not in (_S.CANCELED, _S.FAILED)]
    return bool(
        ctx.session.scalar(
            select(
                exists().where(
                    and_(
                        TaskData.file_id == file_id,
                        TaskData.direction == "output",
                        Task.id == TaskData.task_id,
                        Task.status.in_(alive),
                    )
                )
            )
        )
    )


@operation("assign_data_to_task")
def assign_data_to_task(
    ctx: Ctx, *, task_id: str, inputs: list[dict[str, Any]], outputs: list[dict[str, Any]]
) -> dict[str, Any]:
    task = _task_for(ctx, task_id, "assign data to", lock=True)
    if TaskStatus(task.status) is not _S.CREATED:
        refuse(TaskStatus(task.status), "assign data to")
    bound = _bindings(ctx, task_id)
    # The outputs' rows stay locked until commit, so that the "in use" check below and the binding are one
    # step: another task's assignment of the same output waits, then finds it in use. Locked in one order,
    # so that two assignments naming the same outputs in different orders never deadlock.
    for data_id in sorted({str(entry["data_id"]) for entry in outputs}):
        ctx.session.get(DataFile, data_id, with_for_update=True)
    me = ctx.user.user_id
    seen: set[tuple[str, str]] = set()
    for kind, entries, declared in (
        ("input", inputs, task.inputs_ownership),
        ("output", outputs, task.outputs_ownership),
    ):
        for entry in entries:
            name, data_id = entry["data_name"], entry["data_id"]
            if name not in declared:
                raise Invalid(f"the task declares no {kind} named '{name}'", "invalid_data_name")
            if (kind, name) in bound or (kind, name) in seen:
                raise StateConflict(f"{kind} '{name}' is already assigned", "already_assigned")
            seen.add((kind, name))
            record = get_file_row(ctx, data_id, kind)
            owners = owners_of(ctx, data_id)
            if me not in owners:
                raise NotPermitted(f"you are not an owner of {data_id}")
            if owners != set(declared[name]):
                raise NotPermitted(
                    f"{data_id} is owned by {', '.join(sorted(owners))} but the task declares "
                    f"{kind} '{name}' owned by {', '.join(declared[name])}",
                    "ownership_mismatch",
                )
            waiting = pending_consent(ctx, data_id)
            if waiting:
                raise StateConflict(
                    f"{data_id} is a fusion output still waiting for {', '.join(waiting)} to accept it",
                    "consent_pending",
                )
            if kind == "output":
                refuse_spent_output(record)
            if kind == "output" and _output_in_use(ctx, data_id):
                raise StateConflict(f"{data_id} is already assigned to another task", "output_already_assigned")
            ctx.session.add(TaskData(task_id=task_id, direction=kind, data_name=name, file_id=data_id))
            bound[(kind, name)] = data_id
    if not seen:
        raise Invalid("assign at least one input or output", "invalid_request")
    if _data_complete(task, bound):
        _set_status(task, _S.DATA_ASSIGNED, "assign data to", ctx.now)
    task.updated_at = ctx.now
    ctx.note = ", ".join(f"{kind} {name}" for kind, name in sorted(seen))
    return {}


@operation("approve_task")
def approve_task(ctx: Ctx, *, task_id: str) -> dict[str, Any]:
    task = _task_for(ctx, task_id, "approve", lock=True)
    status = TaskStatus(task.status)
    if status not in (_S.CREATED, _S.DATA_ASSIGNED):
        refuse(status, "approve")
    bound = _bindings(ctx, task_id)
    if not _data_complete(task, bound):
        raise StateConflict(
            f"the task still waits for data: {', '.join(_missing_data(task, bound))}", "data_incomplete"
        )
    people = participants(ctx, task_id)
    if people[ctx.user.user_id]:
        raise StateConflict("you have already approved this task", "already_approved")
    ctx.session.execute(
        update(TaskParticipant)
        .where(TaskParticipant.task_id == task_id, TaskParticipant.user_id == ctx.user.user_id)
        .values(approved=True)
    )
    people[ctx.user.user_id] = True
    _set_status(task, _S.APPROVED if all(people.values()) else _S.DATA_ASSIGNED, "approve", ctx.now)
    return {}


@operation("invoke_task")
def invoke_task(ctx: Ctx, *, task_id: str) -> dict[str, Any]:
    # Every task passes through here: Core statements on the transaction's connection, not ORM objects.
    ctx.object_id = task_id
    db = ctx.session.connection()
    task = db.execute(_TO_INVOKE, {"task": task_id}).first()
    if task is None:
        raise NoSuchObject(f"there is no task '{task_id}'", "unknown_task")
    people = participants(ctx, task_id)
    if ctx.user.user_id not in people:
        raise _outsider(task_id, "invoke")
    if task.creator != ctx.user.user_id:
        raise NotPermitted(f"only the creator of {task_id} ({task.creator}) may invoke it")
    status = TaskStatus(task.status)
    if status not in WAITING:
        refuse(status, "invoke")
    # Only declared data names can be bound, so a task that declares none has no bindings to read.
    bound = _bindings(ctx, task_id) if task.inputs_ownership or task.outputs_ownership else {}
    if not _data_complete(task, bound):
        raise StateConflict(
            f"the task still waits for data: {', '.join(_missing_data(task, bound))}", "data_incomplete"
        )
    waiting = sorted(user for user, approved in people.items() if not approved)
    if len(people) > 1 and waiting:
        raise StateConflict(f"the task still waits for approval from {', '.join(waiting)}", "not_approved")
    _check_queued_cap(ctx, db)
    if db.execute(_COUNT_USE, {"function": task.function_id}).rowcount != 1:
        _refuse_use(db, task.function_id)
    check_transition(status, _S.STAGED, "invoke")
    db.execute(_STAGE, {"task": task_id, "now": ctx.now})
    ctx.wakes.add(Topic.QUEUE)
    return {}


def _check_queued_cap(ctx: Ctx, db: Connection) -> None:
    """One user may keep only so many tasks waiting, so that a flood cannot fill the queue."""
    cap = ctx.settings.max_queued_per_user
    if cap is not None and db.execute(_QUEUED_BY, {"user": ctx.user.user_id}).scalar_one() >= cap:
        raise StateConflict(
            f"you already have {cap} tasks waiting in the queue, the most one user may have "
            "(the operator's --max-queued-per-user); invoke this one once some of them have started",
            "queued_cap_reached",
        )


def _refuse_use(db: Connection, function_id: str) -> NoReturn:
    """Why a task's function may not run once more: disabled (or deleted), or out of quota."""
    function = db.execute(select(Function.disabled, Function.usage_quota).where(Function.id == function_id)).first()
    if function is None or function.disabled:
        raise StateConflict(f"the function {function_id} has been disabled or deleted", "function_disabled")
    raise StateConflict(
        f"the function {function_id} has used up its quota of {function.usage_quota} runs", "quota_exceeded"
    )


@operation("cancel_task")
def cancel_task(ctx: Ctx, *, task_id: str) -> dict[str, Any]:
    ctx.object_id = task_id
    # Locked: a worker's finish waits for this cancel and is then told its outcome was not recorded;
    # a finish that came first leaves the task Finished, which cannot be canceled.
    task = get_task_row(ctx, task_id, lock=True)
    if task.creator != ctx.user.user_id and not ctx.user.role.is_admin:
        raise NotPermitted(f"only the creator of {task_id} or an admin may cancel it")
    check_transition(TaskStatus(task.status), _S.CANCELED, "cancel")
    _set_status(task, _S.CANCELED, "cancel", ctx.now)
    task.reason = f"canceled by {ctx.user.user_id}"
    task.ended_at = ctx.now
    ctx.wakes.add(Topic.RESULTS)
    # A running task keeps its worker_id: the worker learns of the cancel at its next heartbeat,
    # and the pool finds it through TaskQueue.canceled_running_tasks().
    return {}


# -- reading ---------------------------------------------------------------------------------


def _metrics_for(task: Task | Row[Any], viewer: Actor) -> dict[str, Any]:
    """The run's metrics with per-file figures only for the data the viewer owns (all of them for the admin).

    The byte counts of a co-participant's input say something about its plaintext, which is theirs alone.
    """
    metrics = dict(task.metrics or {})
    if "files" in metrics and not viewer.role.is_admin:
        mine = {
            name
            for name, uids in (*task.inputs_ownership.items(), *task.outputs_ownership.items())
            if viewer.user_id in uids
        }
        metrics["files"] = {name: figures for name, figures in metrics["files"].items() if name in mine}
    return metrics


def result_view(task: Task | Row[Any], viewer: Actor) -> dict[str, Any]:
    return {
        "status": task.status,
        "status_code": TaskStatus(task.status).code,
        "return_value": task.return_value,
        "tags_map": dict(task.tags or {}),
        "failure_kind": task.failure_kind,
        "reason": task.reason,
        "metrics": _metrics_for(task, viewer),
    }


def task_view(ctx: Ctx, task: Task) -> dict[str, Any]:
    people = participants(ctx, task.id)
    bound = _bindings(ctx, task.id)
    ended = TaskStatus(task.status) in ENDED
    return {
        "task_id": task.id,
        "creator": task.creator,
        "function_id": task.function_id,
        "function_owner": task.function_owner,
        "payload_sha256": task.payload_sha256,
        "limits": task.limits,
        "function_arguments": task.function_arguments,
        "executor": task.executor,
        "inputs_ownership": [{"data_name": n, "uids": u} for n, u in task.inputs_ownership.items()],
        "outputs_ownership": [{"data_name": n, "uids": u} for n, u in task.outputs_ownership.items()],
        "participants": sorted(people),
        "approved_users": sorted(user for user, approved in people.items() if approved),
        "assigned_inputs": [{"data_name": n, "data_id": f} for (d, n), f in sorted(bound.items()) if d == "input"],
        "assigned_outputs": [{"data_name": n, "data_id": f} for (d, n), f in sorted(bound.items()) if d == "output"],
        "status": task.status,
        "status_code": TaskStatus(task.status).code,
        "attempt": task.attempt,
        "result": result_view(task, ctx.user) if ended else None,
        "created_at": iso(task.created_at),
        "updated_at": iso(task.updated_at),
    }


@operation("get_task")
def get_task(ctx: Ctx, *, task_id: str) -> dict[str, Any]:
    return task_view(ctx, _task_for(ctx, task_id, "read", admin_reads=True))


@operation("get_task_result", readonly=True)
def get_task_result(ctx: Ctx, *, task_id: str, timeout: float = 30.0) -> dict[str, Any]:
    """Check access and answer with the result now; the service waits and re-reads if it has not ended."""
    ctx.object_id = task_id
    db = ctx.session.connection()
    # Clients poll this for every task: one Core query reads the result and the caller's part in the task.
    row = db.execute(_RESULT_AND_PART, {"task": task_id, "user": ctx.user.user_id}).first()
    if row is None:
        raise NoSuchObject(f"there is no task '{task_id}'", "unknown_task")
    if not (row.taking_part or ctx.user.role.is_admin):
        raise _outsider(task_id, "read")
    return task_result(row, ctx.user)


def result_row(db: Connection, task_id: str) -> Row[Any]:
    """The columns :func:`task_result` reads, for a task known to exist."""
    return db.execute(_RESULT, {"task": task_id}).one()


def ended_result_rows(db: Connection, task_ids: list[str]) -> list[Row[Any]]:
    """The columns :func:`task_result` reads, for those of ``task_ids`` that have ended."""
    return list(db.execute(_ENDED_RESULTS, {"ids": task_ids}))


def task_result(task: Task | Row[Any], viewer: Actor) -> dict[str, Any]:
    status = TaskStatus(task.status)
    if status in ENDED:
        return {"task_id": task.id, "done": True, **result_view(task, viewer)}
    return {"task_id": task.id, "done": False, "status": status.value, "status_code": status.code}


@operation("get_output_cmac_by_tag")
def get_output_cmac_by_tag(ctx: Ctx, *, task_id: str, tag: str) -> dict[str, Any]:
    task = _task_for(ctx, task_id, "read", admin_reads=True)
    if task.status != _S.FINISHED.value:
        raise StateConflict(f"the task is {task.status}, not Finished, so it has no output tags", "invalid_state")
    tags = task.tags or {}
    if tag not in tags:
        raise NoSuchObject(f"the task has no output named '{tag}'", "unknown_tag")
    return {"cmac": tags[tag]}


@operation("list_tasks")
def list_tasks(ctx: Ctx) -> dict[str, Any]:
    query = select(Task.id).order_by(Task.created_at, codepoint(Task.id))
    if not ctx.user.role.is_admin:
        query = query.join(TaskParticipant, TaskParticipant.task_id == Task.id).where(
            TaskParticipant.user_id == ctx.user.user_id
        )
    return {"task_ids": list(ctx.session.scalars(query))}
