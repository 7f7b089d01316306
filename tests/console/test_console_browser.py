"""The web console in a real browser (Debian's chromium driven by Playwright) against a real ``teabox serve``.

The millionaire flow is done entirely in pages: the function owner registers
the payload from a ``.wasm`` upload, Alice creates the task, both data owners
encrypt and register their inputs in their own browser, assign them and
approve, Alice runs the task and decrypts her verdict in the page. Each user
has a browser context of their own (separate cookies), as separate people
would. Screenshots of the main pages go to ``$TEABOX_SCREENSHOTS`` when set
(that is how docs/console/ is made), else to the test's temporary directory.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright
from support.examples import build_example

from teabox.client import Client
from teabox.demo.flows import new_user
from teabox.testing.local_server import LocalServer

# Its tests share module-scoped servers: one pytest-xdist process runs them all, so each starts once.
pytestmark = pytest.mark.xdist_group("console_browser")

_CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Generous: only keeps a broken page from hanging the suite.
_PATIENCE_MS = 90_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail("the console tests need Debian's chromium: apt-get install chromium (scripts/test does)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=_CHROMIUM_FLAGS)
        yield launched
        launched.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    target = Path(os.environ.get("TEABOX_SCREENSHOTS") or tmp_path / "screenshots")
    target.mkdir(parents=True, exist_ok=True)
    return target


def _person(
    closer: ExitStack, browser: Browser, server: LocalServer, user_id: str, password: str
) -> tuple[BrowserContext, Page]:
    """A browser context of ``user_id``'s own, signed in; ``closer`` closes it when the test ends."""
    context = closer.enter_context(browser.new_context(accept_downloads=True, viewport={"width": 1100, "height": 900}))
    context.set_default_timeout(_PATIENCE_MS)
    page = context.new_page()
    page.goto(f"{server.url}/console/")
    expect(page).to_have_url(re.compile(r"/console/login"))
    page.get_by_label("User id").fill(user_id)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#signed-in-as")).to_have_text(user_id)
    return context, page


def _register_input(page: Page, server: LocalServer, path: Path) -> str:
    page.goto(f"{server.url}/console/files")
    page.get_by_label("File to encrypt and upload").set_input_files(str(path))
    page.get_by_role("button", name="Encrypt and register").click()
    row = page.locator("#inputs tbody tr").filter(has_text=path.name + ".enc")
    expect(row).to_have_count(1)
    return row.locator("code").first.inner_text()


def test_the_millionaire_flow_in_the_browser(
    browser: Browser, platform_server: LocalServer, admin_client: Client, tmp_path: Path, shots: Path, closer: ExitStack
) -> None:
    server = platform_server
    passwords = {}
    users = {}
    for name, role, attribute in (
        ("vendor", "FunctionOwner", ""),
        ("alice", "DataOwner", "north"),
        ("bob", "DataOwner", "south"),
    ):
        with new_user(admin_client, name, role, attribute) as client:
            users[name] = client.user_id
            passwords[name] = f"pw-{client.user_id}-long-enough"
            client.user_change_password(passwords[name])
    wasm = tmp_path / "millionaire.wasm"
    wasm.write_bytes(build_example("millionaire-c"))
    (tmp_path / "alice.txt").write_text("4211037\n")
    (tmp_path / "bob.txt").write_text("1008611\n")

    # The function owner registers the payload, seeing the check's findings first.
    _, vendor = _person(closer, browser, server, users["vendor"], passwords["vendor"])
    vendor.goto(f"{server.url}/console/functions")
    vendor.get_by_label("WebAssembly module").set_input_files(str(wasm))
    vendor.get_by_label("Name", exact=True).fill("millionaire")
    vendor.get_by_label("Description").fill("Names the richer of two parties and nothing else.")
    vendor.get_by_label("Input names (comma separated)").fill("pf_in_a, pf_in_b")
    vendor.get_by_label("Output names (comma separated)").fill("pf_out")
    vendor.get_by_role("button", name="Check the module").click()
    expect(vendor.locator("#check-ok")).to_be_visible()
    expect(vendor.locator("#check-report")).to_contain_text("env.teaclave_open_input")
    vendor.screenshot(path=str(shots / "function-check.png"), full_page=True)
    vendor.get_by_role("button", name="Register the function").click()
    function_id = vendor.locator("#functions tbody tr").first.get_attribute("id")
    assert function_id and function_id.startswith("function-")
    vendor.screenshot(path=str(shots / "functions.png"), full_page=True)

    # Alice creates the task.
    _, alice = _person(closer, browser, server, users["alice"], passwords["alice"])
    alice.goto(f"{server.url}/console/tasks")
    alice.locator("#new-task summary").click()
    alice.get_by_label("Function id").fill(function_id)
    alice.locator("#input_owners").fill(f"pf_in_a={users['alice']}\npf_in_b={users['bob']}")
    alice.locator("#output_owners").fill(f"pf_out={users['alice']}")
    alice.get_by_role("button", name="Create the task").click()
    expect(alice).to_have_url(re.compile(r"/console/tasks/task-"))
    task_url = alice.url

    # Each data owner encrypts an input in their own browser; Alice registers an output and keeps its key file.
    alice_in = _register_input(alice, server, tmp_path / "alice.txt")
    alice.get_by_label("File name").fill("verdict.enc")
    with alice.expect_download() as key_download:
        alice.get_by_role("button", name="Register output").click()
    key_file = tmp_path / "verdict.key.json"
    key_download.value.save_as(key_file)
    alice_out = alice.locator("#key-file-link").get_attribute("download")
    assert alice_out is not None
    alice_out = alice_out.removesuffix(".key.json")
    alice.screenshot(path=str(shots / "files.png"), full_page=True)

    _, bob = _person(closer, browser, server, users["bob"], passwords["bob"])
    bob_in = _register_input(bob, server, tmp_path / "bob.txt")

    # The approval page lists every input, output and owner before anyone approves.
    alice.goto(task_url)
    table = alice.locator("#data-table")
    for name, owner in (("pf_in_a", users["alice"]), ("pf_in_b", users["bob"]), ("pf_out", users["alice"])):
        expect(table.locator(f'tr[data-name="{name}"]')).to_contain_text(owner)
    expect(alice.locator("#function-name")).to_contain_text("millionaire")
    expect(alice.locator("#abi-summary")).to_contain_text("a valid payload")
    alice.locator("#assign-input-pf_in_a").select_option(alice_in)
    alice.locator("#assign-output-pf_out").select_option(alice_out)
    alice.get_by_role("button", name="Assign").click()
    # Approval opens once every input and output is assigned.
    expect(alice.locator("#waiting-for-data")).to_contain_text("pf_in_b")
    expect(alice.get_by_role("button", name="Approve this task")).to_have_count(0)

    bob.goto(task_url)
    bob.locator("#assign-input-pf_in_b").select_option(bob_in)
    bob.get_by_role("button", name="Assign").click()
    bob.get_by_role("button", name="Approve this task").click()
    expect(bob.locator("#approved-by")).to_contain_text(users["bob"])

    alice.goto(task_url)
    alice.screenshot(path=str(shots / "task-approval.png"), full_page=True)
    alice.get_by_role("button", name="Approve this task").click()
    expect(alice.locator("#task-status")).to_have_text("Approved")

    # Alice runs it; the page follows the task until it ends.
    alice.get_by_role("button", name="Run it now").click()
    expect(alice.locator("#task-status")).to_have_text("Finished")
    expect(alice.locator("#return-value")).to_have_text("7")
    alice.screenshot(path=str(shots / "task-finished.png"), full_page=True)
    bob.goto(f"{server.url}/console/tasks")
    expect(bob.locator('[data-group="Finished"]')).to_contain_text(task_url.rsplit("/", 1)[1])
    bob.screenshot(path=str(shots / "tasks.png"), full_page=True)

    # Alice decrypts her verdict in the page: the richer party's input is hers.
    alice.goto(f"{server.url}/console/files")
    alice.locator(f'form.decrypt[data-id="{alice_out}"] input[type=file]').set_input_files(str(key_file))
    alice.locator(f'form.decrypt[data-id="{alice_out}"] button').click()
    expect(alice.locator(f"#plaintext-{alice_out}")).to_have_text("pf_in_a")

    # Bob may not read Alice's output: the console says so plainly.
    bob.goto(f"{server.url}/console/files/{alice_out}/ciphertext")
    expect(bob.locator("#error")).to_contain_text(alice_out)
    expect(bob.locator("h1")).to_have_text("That did not happen")
    bob.screenshot(path=str(shots / "refused.png"), full_page=True)


def test_sign_in_cookie_and_content_security_policy(
    browser: Browser, platform_server: LocalServer, admin_client: Client, closer: ExitStack
) -> None:
    with new_user(admin_client, "carol", "DataOwner", "west") as carol:
        carol.user_change_password("carol-password-long")
    context, page = _person(closer, browser, platform_server, carol.user_id, "carol-password-long")
    (cookie,) = [c for c in context.cookies() if c["name"] == "teabox_session"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/console"
    response = page.goto(f"{platform_server.url}/console/tasks")
    assert response is not None
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
    # Page scripts cannot read the session: it is not in document.cookie, nor in any storage.
    assert "teabox_session" not in page.evaluate("document.cookie")
    assert page.evaluate("Object.keys(localStorage).length + Object.keys(sessionStorage).length") == 0
    # Readable on a phone: at a phone's width nothing needs sideways scrolling.
    page.set_viewport_size({"width": 390, "height": 800})
    page.goto(f"{platform_server.url}/console/files")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    # The keyboard reaches the skip link first.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/console/login"))
