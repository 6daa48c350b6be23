"""Unix accounts per installation: two `cosim up` with their own state dirs on one machine each
spawn the same hub user under accounts of their own, and an account this installation did not
create stops a spawn with one sentence that says what to do, not a 500."""

from __future__ import annotations

import pwd
import shutil
import subprocess
import time
from collections.abc import Iterator

import pytest

from cosim_hub.spawner import unix_account_name
from cosim_testing.hub_client import HubClient
from cosim_testing.stack import CoSimStack, make_state_dir, start_cosim_up, stop_cosim_up

CONFLICT = "already exists and was not created by this CoSim installation"


@pytest.fixture(scope="module")
def two_stacks() -> Iterator[tuple[CoSimStack, CoSimStack]]:
    """Two installations with the accounts prefix each writes at first start (not a test one)."""
    stacks: list[CoSimStack] = []
    try:
        for _ in range(2):
            stacks.append(start_cosim_up(make_state_dir(), account_prefix=""))
        yield stacks[0], stacks[1]
    finally:
        for stack in stacks:
            survivors = stop_cosim_up(stack)
            shutil.rmtree(stack.state_dir.parent, ignore_errors=True)
            assert survivors == [], survivors


def test_two_installations_spawn_the_same_user(two_stacks: tuple[CoSimStack, CoSimStack]) -> None:
    first, second = two_stacks
    assert first.account_prefix != second.account_prefix
    for stack in two_stacks:
        assert stack.account_prefix.startswith("cosim-")
        alice, _ = stack.new_user("alice")
        alice.spawn()
        account = pwd.getpwnam(unix_account_name(stack.account_prefix, "alice"))
        assert account.pw_dir == str(stack.state_dir / "users" / "alice")
        install_id = (stack.state_dir / "hub" / "installation-id").read_text().strip()
        assert account.pw_gecos == f"CoSim {install_id} user alice"
        assert stack.server_pids("alice")
        alice.stop()


def _spawn_page_message(client: HubClient, name: str, timeout: float = 30.0) -> str:
    """What the spawn page shows after submitting the profile form: the form page's error, or
    the failure the pending page's progress stream reports."""
    page = client.request("POST", f"hub/spawn/{name}", data={"profile": "cpu"})
    if CONFLICT in page.text:
        return page.text
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        events = client.api("GET", f"users/{name}/server/progress", stream=True, timeout=timeout)
        text = events.text
        if '"failed": true' in text:
            return text
        time.sleep(0.5)
    return page.text


def test_a_foreign_account_gives_one_sentence(two_stacks: tuple[CoSimStack, CoSimStack]) -> None:
    stack = two_stacks[0]
    name = unix_account_name(stack.account_prefix, "bob")
    subprocess.run(
        ["useradd", "--no-create-home", "--home-dir", "/nonexistent", name],
        check=True,
        capture_output=True,
    )
    try:
        bob, _ = stack.new_user("bob")
        shown = _spawn_page_message(bob, "bob")
        assert f"the Unix account {name} {CONFLICT}" in shown, shown[-2000:]
        assert f"userdel {name}" in shown
        assert "Unhandled error" not in shown and "500" not in shown.split(CONFLICT)[0][-200:]
        assert not stack.server_pids("bob")
        # The API says the same with a 409, not a 500.
        resp = bob.api("POST", "users/bob/server")
        assert resp.status_code == 409 and CONFLICT in resp.text, resp.text
        assert pwd.getpwnam(name).pw_dir == "/nonexistent"  # never taken over
    finally:
        subprocess.run(["userdel", name], check=False, capture_output=True)
