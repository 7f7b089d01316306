"""``Platform.serve``: a call made with a bearer token, as the service makes every API call.

A read-only call looks its token up in its own transaction (one transaction, not one to
authenticate and one to run); a call that writes looks it up in a read of its own first, so
that a caller without a valid token never takes the write lock. Costs are counted in round
trips, which do not depend on how loaded the machine is.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from support.backends import InProcess, platform_admin
from support.platform_api import PASSWORD
from support.round_trips import RoundTrips

from teabox.platform.core import Platform
from teabox.platform.errors import NotAuthenticated, NotPermitted
from teabox.platform.storage import Storage

# BEGIN, the token's owner, the task's result and the caller's part in it, ROLLBACK.
LOOK_ROUND_TRIPS = 4


@pytest.fixture
def platform(fresh_storage: Storage) -> Platform:
    return Platform(fresh_storage)


def token_of(platform: Platform, user: InProcess) -> str:
    token: str = platform.call("user_login", None, {"user_id": user.user_id, "password": PASSWORD})["token"]
    return token


def a_task(platform: Platform) -> tuple[InProcess, str]:
    admin = platform_admin(platform)
    owner, user = admin.new_user("FunctionOwner"), admin.new_user("DataOwner-org")
    return user, user.task(owner.function())


def audit_entries(platform: Platform, action: str) -> list[dict[str, Any]]:
    admin = platform_admin(platform)
    logs: list[dict[str, Any]] = admin.call("query_audit_logs", action=action, limit=1000)["logs"]
    return logs


def test_a_read_only_call_checks_its_token_in_its_own_transaction(platform: Platform) -> None:
    user, task_id = a_task(platform)
    token = token_of(platform, user)
    trips = RoundTrips(platform.storage.database)
    with trips.counting():
        actor, answer = platform.serve("get_task_result", token, {"task_id": task_id}, audit_success=False)
    assert actor is not None and actor.user_id == user.user_id
    assert (answer["task_id"], answer["done"], answer["status"]) == (task_id, False, "Created")
    assert trips.count == LOOK_ROUND_TRIPS, f"the look took {trips.count} round trips"


@pytest.mark.parametrize("operation", ["get_task_result", "get_task"])
def test_a_call_is_audited_for_the_tokens_owner(platform: Platform, operation: str) -> None:
    user, task_id = a_task(platform)
    platform.serve(operation, token_of(platform, user), {"task_id": task_id})
    [entry] = [e for e in audit_entries(platform, operation) if e["object_id"] == task_id]
    assert (entry["user_id"], entry["outcome"]) == (user.user_id, "ok")


@pytest.mark.parametrize("operation", ["get_task_result", "get_task"])
def test_a_refused_call_is_audited_for_the_tokens_owner(platform: Platform, operation: str) -> None:
    _, task_id = a_task(platform)
    outsider = platform_admin(platform).new_user("DataOwner-org")
    with pytest.raises(NotPermitted) as refused:
        platform.serve(operation, token_of(platform, outsider), {"task_id": task_id})
    [entry] = [e for e in audit_entries(platform, operation) if e["object_id"] == task_id]
    assert (entry["user_id"], entry["outcome"]) == (outsider.user_id, refused.value.code)


@pytest.mark.parametrize("token", [None, "", "not-a-token"])
@pytest.mark.parametrize("operation", ["get_task_result", "invoke_task"])
def test_a_call_without_a_valid_token_is_refused_before_anything_else_and_left_to_the_service_to_audit(
    platform: Platform, operation: str, token: str | None
) -> None:
    """The service audits it with the client's address, which only it knows; a NUL in the body is not looked at."""
    _, task_id = a_task(platform)
    with pytest.raises(NotAuthenticated) as refused:
        platform.serve(operation, token, {"task_id": task_id + "\x00"})
    assert not refused.value.audited
    assert audit_entries(platform, operation) == []


def test_a_call_that_writes_with_a_bad_token_never_takes_the_write_lock(tmp_path: Path) -> None:
    """SQLite's write lock held elsewhere: a caller without a valid token is refused without waiting for it."""
    storage = Storage.open(tmp_path / "data")
    holder = sqlite3.connect(tmp_path / "data" / "teabox.db", isolation_level=None)
    try:
        platform = Platform(storage)
        _, task_id = a_task(platform)
        holder.execute("BEGIN IMMEDIATE")
        with pytest.raises(NotAuthenticated):
            platform.serve("invoke_task", "not-a-token", {"task_id": task_id})
    finally:
        holder.close()
        storage.close()
