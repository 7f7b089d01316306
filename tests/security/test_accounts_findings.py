"""Accounts and ownership, attacked through the real HTTP service: each test replays one way a user could
take another's data (deleted ids, manager chains, forced co-ownership, other users' payloads, other users'
file:// paths, co-owners' byte counts) and asserts that the attacker gets nothing."""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Callable
from pathlib import Path

from support.authz import reading_payload, refused
from support.platform_api import login

from teabox.client import Client
from teabox.client.errors import Conflict, Forbidden, InvalidRequest, Unauthenticated
from teabox.client.requests import DataMap, OwnerList
from teabox.testing.local_server import LocalServer, teabox_command

MakeUser = Callable[..., Client]
ZERO_KEY = bytes(16)


def _function(owner: Client, payload: bytes, *, public: bool = True, **fields: object) -> str:
    return owner.register_function("f", "security test", "wamr", public, payload, **fields)  # type: ignore[arg-type]


def _password(client: Client) -> str:
    return f"pw-{client.user_id}"  # what platform_server's make_user gives every user


def test_a_deleted_users_id_is_never_given_to_anyone_else(
    platform_server: LocalServer, admin_client: Client, make_user: MakeUser, tmp_path: Path
) -> None:
    owner = make_user("fo", "FunctionOwner")
    victim = make_user("victim", "DataOwner", "deleted")
    manager = make_user("mgr", "DataOwnerManager", "deleted")
    victim_id = victim.user_id
    assert victim_id is not None
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"the victim's ledger")
    owned = victim.register_local_input(secret)
    private = _function(owner, reading_payload("in"), public=False, inputs=[{"name": "in"}], user_allowlist=[victim_id])
    task_id = victim.create_task(private, inputs_ownership=[OwnerList("in", [victim_id])])

    manager.delete_user(victim_id)
    with refused(Unauthenticated, "invalid_token"):
        victim.get_current_user()
    # Whoever asks for the id again, with whatever role, is refused: the id stays the deleted user's.
    for registrar, role, attribute in ((admin_client, "DataOwner", "deleted"), (manager, "DataOwner", "deleted")):
        with refused(Conflict, "id_retired"):
            registrar.user_register(victim_id, "a fresh password", role, attribute)
    with refused(Unauthenticated, "invalid_credentials"):
        login(platform_server, victim_id, _password(victim))
    assert victim_id not in admin_client.list_users()
    # Nothing can newly name the deleted user: no allowlist, no ownership, no co-ownership.
    with refused(InvalidRequest, "invalid_allowlist"):
        _function(owner, reading_payload("in"), public=False, user_allowlist=[victim_id])
    other = make_user("other", "DataOwner", "deleted")
    public = _function(owner, reading_payload("in"), inputs=[{"name": "in"}])
    with refused(InvalidRequest, "invalid_ownership"):
        other.create_task(public, inputs_ownership=[OwnerList("in", [victim_id])])
    with refused(InvalidRequest, "invalid_ownership"):
        other.register_fusion_output([other.user_id or "", victim_id])
    # The deleted user's file and task stay out of everyone else's reach.
    with refused(Forbidden, "forbidden"):
        other.get_input_file(owned.data_id)
    with refused(Forbidden, "forbidden"):
        other.get_task(task_id)
    with refused(Forbidden, "forbidden"):
        other.download_file(owned.url, tmp_path / "stolen")


def test_no_role_obtains_a_login_for_another_user(
    platform_server: LocalServer, admin_client: Client, make_user: MakeUser, tmp_path: Path
) -> None:
    # step 1 of the old chain: a FunctionOwner registers a manager of the victims' attribute
    function_owner = make_user("fo", "FunctionOwner")
    with refused(Forbidden, "forbidden"):
        function_owner.user_register(f"{function_owner.user_id}-m", "manager password", "DataOwnerManager", "bank")
    # step 2: a manager (legitimately registered) resets, or sets, a DataOwner's password
    manager = make_user("mgr", "DataOwnerManager", "bank")
    victim = make_user("victim", "DataOwner", "bank")
    victim_id = victim.user_id
    assert victim_id is not None
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"the victim's balance")
    owned = victim.register_local_input(secret)
    with refused(Forbidden, "forbidden"):
        manager._call("user_update", user_id=victim_id, role="DataOwner", attribute="bank", password="chosen by mgr")
    manager.reset_user_password(victim_id)  # returns nothing the manager could log in with
    with refused(Unauthenticated, "invalid_token"):
        victim.get_current_user()
    for password in (_password(victim), "chosen by mgr"):
        with refused(Unauthenticated, "invalid_credentials"):
            login(platform_server, victim_id, password)
    with Client(platform_server.url) as guesser, refused(Unauthenticated, "invalid_reset_token"):
        guesser.user_redeem_reset(victim_id, "guessed-token", "the manager's password")
    with refused(Forbidden, "forbidden"):
        manager.download_file(owned.url, tmp_path / "stolen")

    # The operator issues the victim a one-time token on the machine; only its holder can set the password.
    issued = subprocess.run(
        teabox_command("admin", "reset-password", "--data-dir", str(platform_server.data_dir), "--user-id", victim_id),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    reset_token = issued.stdout.strip()
    with Client(platform_server.url) as anonymous:
        anonymous.user_redeem_reset(victim_id, reset_token, "the victim's own new one")
        with refused(Unauthenticated, "invalid_reset_token"):  # one use only
            anonymous.user_redeem_reset(victim_id, reset_token, "a second try")
    with login(platform_server, victim_id, "the victim's own new one") as back:
        assert back.get_input_file(owned.data_id).owner == [victim_id]


def test_a_managers_chosen_password_opens_nothing_once_the_user_has_data(
    platform_server: LocalServer, make_user: MakeUser, tmp_path: Path
) -> None:
    manager = make_user("mgr", "DataOwnerManager", "invite")
    member_id = f"{manager.user_id}-member"
    manager.user_register(member_id, "chosen by the manager", "DataOwner", "invite")
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"the member's data")
    with login(platform_server, member_id, "chosen by the manager") as member:
        assert member.get_current_user().must_change_password
        with refused(Forbidden, "password_change_required"):  # no data before the password is the member's own
            member.register_local_input(secret)
        early = login(platform_server, member_id, "chosen by the manager")  # the manager's session, opened first
        member.user_change_password("the member's own")
        owned = member.register_local_input(secret)
    with early, refused(Unauthenticated, "invalid_token"):
        early.get_input_file(owned.data_id)
    with refused(Unauthenticated, "invalid_credentials"):
        login(platform_server, member_id, "chosen by the manager")


def test_a_fusion_output_names_co_owners_only_with_their_consent(make_user: MakeUser) -> None:
    function_owner = make_user("fo", "FunctionOwner")
    attacker = make_user("attacker", "DataOwner", "fusion")
    victim = make_user("victim", "DataOwner", "fusion")
    a, v = attacker.user_id or "", victim.user_id or ""
    function_id = _function(function_owner, reading_payload(), outputs=[{"name": "joint"}])
    fusion = attacker.register_fusion_output([a, v])
    assert attacker.get_output_file(fusion).pending_owners == [v]
    task_id = attacker.create_task(function_id, outputs_ownership=[OwnerList("joint", [a, v])])
    with refused(Conflict, "consent_pending"):
        attacker.assign_data_to_task(task_id, outputs=[DataMap("joint", fusion)])
    assert attacker.get_task(task_id).status == "Created"
    # the named owner agrees: now, and only now, it can be used
    assert victim.accept_fusion_output(fusion) == []
    attacker.assign_data_to_task(task_id, outputs=[DataMap("joint", fusion)])


def test_only_the_uploader_may_register_a_payload_id(make_user: MakeUser, admin_client: Client) -> None:
    victim = make_user("fo", "FunctionOwner")
    attacker = make_user("fo", "FunctionOwner")
    private = reading_payload("victims", "secret")
    victim_payload = victim.upload_payload(private)
    private_function = _function(victim, private, public=False)
    # The attacker names the victim's payload (or any blob: an uploaded data file is a blob too) to read it.
    unknown = hashlib.sha256(b"nobody uploaded this").hexdigest()
    for payload_id in (victim_payload, unknown):
        with refused(Forbidden, "payload_not_yours"):
            attacker.register_function("steal", "", "wamr", True, payload_id=payload_id)
        with refused(Forbidden, "payload_not_yours"):
            attacker.update_function(
                _function(attacker, reading_payload()), "steal", "", "wamr", True, payload_id=payload_id
            )
    # its uploader and the admin may; an update may keep the payload the function has
    assert victim.register_function("again", "", "wamr", False, payload_id=victim_payload)
    assert admin_client.register_function("admin's", "", "wamr", False, payload_id=victim_payload)
    victim.update_function(private_function, "renamed", "", "wamr", False, payload_id=victim_payload)


def test_a_file_path_belongs_to_the_first_user_who_registered_it(
    start_platform_server: Callable[..., LocalServer], tmp_path: Path
) -> None:
    shared = tmp_path / "shared"
    (shared / "sub").mkdir(parents=True)
    server = start_platform_server(workers=0, extra_args=("--allow-file-dir", str(shared)))
    with login(server, server.admin_id, server.admin_password) as admin:
        for user_id in ("path-victim", "path-attacker"):
            admin.user_register(user_id, f"pw-{user_id}", "DataOwner", "paths")
    with (
        login(server, "path-victim", "pw-path-victim") as victim,
        login(server, "path-attacker", "pw-path-attacker") as attacker,
    ):
        victim.register_input_file(f"file://{shared}/ledger.bin", "raw", b"", b"", None)
        victim.register_output_file(f"file://{shared}/verdict.bin", "teaclave-file-128", ZERO_KEY, b"")
        spellings = (
            f"file://{shared}/ledger.bin",
            f"file://localhost{shared}/ledger.bin",
            f"file://{shared}/sub/../ledger.bin",
            f"file://{shared}/verdict.bin",
        )
        for url in spellings:
            with refused(Forbidden, "path_taken"):
                attacker.register_input_file(url, "raw", b"", b"", None)
            with refused(Forbidden, "path_taken"):
                attacker.register_output_file(url, "teaclave-file-128", ZERO_KEY, b"")
        own = attacker.register_output_file(f"file://{shared}/mine.bin", "teaclave-file-128", ZERO_KEY, b"")
        with refused(Forbidden, "path_taken"):
            attacker.update_output_file(own, f"file://{shared}/verdict.bin")
        # the first registrant keeps using its path
        victim.register_input_file(f"file://{shared}/sub/../verdict.bin", "raw", b"", b"", None)


def test_result_metrics_show_each_owner_only_their_own_files(make_user: MakeUser, tmp_path: Path) -> None:
    function_owner = make_user("fo", "FunctionOwner")
    alice = make_user("alice", "DataOwner", "metrics")
    bob = make_user("bob", "DataOwner", "metrics")
    a, b = alice.user_id or "", bob.user_id or ""
    function_id = _function(function_owner, reading_payload("a", "b"), inputs=[{"name": "a"}, {"name": "b"}])
    sizes = {"a": 1000, "b": 7777}
    files = {}
    for client, name in ((alice, "a"), (bob, "b")):
        plain = tmp_path / name
        plain.write_bytes(b"x" * sizes[name])
        files[name] = client.register_local_input(plain).data_id
    task_id = alice.create_task(function_id, inputs_ownership=[OwnerList("a", [a]), OwnerList("b", [b])])
    alice.assign_data_to_task(task_id, inputs=[DataMap("a", files["a"])])
    bob.assign_data_to_task(task_id, inputs=[DataMap("b", files["b"])])
    alice.approve_task(task_id)
    bob.approve_task(task_id)
    alice.invoke_task(task_id)
    result = alice.wait_for_task(task_id, timeout=120)
    assert result.status == "Finished", result
    assert result.metrics["files"] == {"a": {"read": sizes["a"], "written": 0}}
    assert bob.wait_for_task(task_id, timeout=0).metrics["files"] == {"b": {"read": sizes["b"], "written": 0}}
    task = bob.get_task(task_id)
    assert task.result is not None and set(task.result.metrics["files"]) == {"b"}
