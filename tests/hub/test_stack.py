"""The real stack: log in, spawn, reach CoSim's API, and per-user isolation on one machine."""

from __future__ import annotations

import http.client
import json
import os
import pwd
import re
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis
import requests
from redis.exceptions import NoPermissionError

from cosim_hub.redis_acl import acl_username
from cosim_hub.spawner import unix_account_name
from cosim_testing.hub_client import HubError
from cosim_testing.stack import CoSimStack


def test_admin_spawns_and_reaches_status(cosim_stack: CoSimStack) -> None:
    admin = cosim_stack.admin_client()
    admin.spawn()
    lab = admin.open_lab()
    assert lab.status_code == 200
    # nbgrader's own student panels (and the Nbgrader menu that opens them) and their server
    # extensions are off: they use nbgrader's shared-folder exchange, which CoSim's course
    # exchange and Courses panel replace. Its authoring and grading tools stay.
    found = re.search(r'id="jupyter-config-data"[^>]*>(.*?)</script>', lab.text, re.S)
    assert found, lab.text[:300]
    disabled = {
        name.removeprefix("@jupyter/nbgrader:")
        for name in json.loads(found.group(1))["disabledExtensions"]
    }
    assert {"assignment-list", "course-list", "menu"} <= disabled
    assert not {"create-assignment", "formgrader", "validate-assignment"} & disabled
    assert admin.request("GET", "user/admin/assignments").status_code == 404
    assert admin.request("GET", "user/admin/courses").status_code == 404
    resp = admin.request("GET", "user/admin/cosim/api/status")
    assert resp.status_code == 200
    body = resp.json()
    assert body["redis"]["reachable"] is True
    assert "status" in body["features"]

    anonymous = requests.get(
        f"{cosim_stack.user_url('admin')}cosim/api/status", allow_redirects=False, timeout=10
    )
    assert anonymous.status_code in (302, 401, 403)
    if anonymous.status_code == 302:
        assert "/hub/login" in anonymous.headers["Location"]


def test_no_profile_question_without_a_gpu(cosim_stack: CoSimStack) -> None:
    """This machine has no GPU, so the only startable profile is the default CPU one: the spawn
    page asks nothing and starts it (a form with one real choice is a click for nothing)."""
    user, _ = cosim_stack.new_user(f"solo{os.getpid() % 1000}")
    page = user.request("GET", "hub/spawn")
    assert page.status_code == 200, page.text[:300]
    assert 'id="spawn_form"' not in page.text
    started = user.api("GET", f"users/{user.user}").json()["servers"].get("")
    assert started, "the spawn page did not start the server"  # that GET did, with no form
    assert started["user_options"].get("profile", "cpu") == "cpu"  # the default profile
    assert user.spawn(timeout=120)  # waits until it answers
    user.stop()


def test_wrong_password_is_refused(cosim_stack: CoSimStack) -> None:
    with pytest.raises(HubError):
        cosim_stack.client().login("admin", "wrong")


def _run_as(account: str, *cmd: str) -> subprocess.CompletedProcess[str]:
    entry = pwd.getpwnam(account)
    return subprocess.run(
        list(cmd),
        user=entry.pw_uid,
        group=entry.pw_gid,
        extra_groups=[],
        capture_output=True,
        text=True,
        cwd="/",
    )


def test_users_are_isolated(cosim_stack: CoSimStack) -> None:
    # An unapproved sign-up cannot log in.
    cosim_stack.client().signup("carol", "carol-password-1")
    with pytest.raises(HubError):
        cosim_stack.client().login("carol", "carol-password-1")

    alice, _ = cosim_stack.new_user("alice")
    bob, _ = cosim_stack.new_user("bob")
    alice.spawn()
    bob.spawn()
    assert alice.open_lab().status_code == 200
    assert bob.open_lab().status_code == 200
    assert alice.request("GET", "user/alice/cosim/api/status").status_code == 200

    prefix = cosim_stack.account_prefix
    homes = cosim_stack.state_dir / "users"
    for name in ("alice", "bob"):
        account = pwd.getpwnam(unix_account_name(prefix, name))
        pids = cosim_stack.server_pids(name)
        assert pids, f"no server process found for {name}"
        for pid in pids:
            uid = Path(f"/proc/{pid}").stat().st_uid
            assert uid == account.pw_uid != 0, f"{name}'s server runs as uid {uid}"
        home = homes / name
        assert home.stat().st_uid == account.pw_uid
        assert home.stat().st_mode & 0o777 == 0o700

    # Each user writes a private file; the other cannot list or read it, nor write there.
    (homes / "bob" / "secret.txt").write_text("bob's data")
    os.chown(homes / "bob" / "secret.txt", *_ids(prefix, "bob"))
    alice_account = unix_account_name(prefix, "alice")
    assert _run_as(alice_account, "cat", str(homes / "bob" / "secret.txt")).returncode != 0
    assert _run_as(alice_account, "ls", str(homes / "bob")).returncode != 0
    assert _run_as(alice_account, "touch", str(homes / "bob" / "x")).returncode != 0
    assert _run_as(alice_account, "ls", str(homes / "alice")).returncode == 0
    # ... and is not root in any way.
    assert _run_as(alice_account, "cat", "/etc/shadow").returncode != 0

    # Alice's session and her API token do not open Bob's server.
    assert alice.request("GET", "user/bob/cosim/api/status", allow_redirects=False).status_code in (
        302,
        403,
        404,
    )
    token = alice.api("POST", "users/alice/tokens", json={"note": "test"}).json()["token"]
    with_token = requests.get(
        f"{cosim_stack.user_url('bob')}cosim/api/status",
        headers={"Authorization": f"token {token}"},
        allow_redirects=False,
        timeout=10,
    )
    assert with_token.status_code in (403, 404)
    own = requests.get(
        f"{cosim_stack.user_url('alice')}cosim/api/status",
        headers={"Authorization": f"token {token}"},
        timeout=10,
    )
    assert own.status_code == 200

    bob.stop()
    assert cosim_stack.server_pids("bob") == []
    alice.stop()


def _ids(prefix: str, name: str) -> tuple[int, int]:
    entry = pwd.getpwnam(unix_account_name(prefix, name))
    return entry.pw_uid, entry.pw_gid


def _upgrade_status(stack: CoSimStack, client: Any, path: str, origin: str) -> int:
    """Status of a cookie-authenticated WebSocket upgrade, as a browser on ``origin`` sends it."""
    target = urlsplit(client.url(path))  # the user server's own origin, with subdomains
    cookies = "; ".join(f"{c.name}={c.value}" for c in client.session.cookies)
    conn = http.client.HTTPConnection(target.hostname, target.port, timeout=10)
    conn.request(
        "GET",
        path,
        headers={
            "Host": target.netloc,
            "Upgrade": "websocket",
            "Connection": "Upgrade",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
            "Sec-WebSocket-Version": "13",
            "Origin": origin,
            "Cookie": cookies,
        },
    )
    status = conn.getresponse().status
    conn.close()
    return status


def test_websocket_origin_is_checked(cosim_stack: CoSimStack) -> None:
    admin = cosim_stack.admin_client()
    admin.spawn()
    admin.open_lab()  # the browser's cookie for the user server
    path = f"/user/{cosim_stack.admin}/cosim/api/sims/{'0' * 32}/ws"
    assert _upgrade_status(cosim_stack, admin, path, "http://evil.example.com") == 403
    # Same origin passes the origin check and reaches the handler: unknown sim -> 404.
    own = cosim_stack.user_url(cosim_stack.admin).split("/user/")[0]
    assert _upgrade_status(cosim_stack, admin, path, own) == 404
    anonymous = cosim_stack.client()
    assert _upgrade_status(cosim_stack, anonymous, path, own) in (302, 403)


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


def test_user_servers_get_their_own_redis_user(cosim_stack: CoSimStack) -> None:
    config = (cosim_stack.state_dir / "hub" / "jupyterhub_config.py").read_text()
    match = re.search(r"c\.CoSimHub\.redis_url = '([^']+)'", config)
    assert match, "cosim up wrote no c.CoSimHub.redis_url"
    admin_url = match.group(1)
    dana, _ = cosim_stack.new_user("dana")
    dana.spawn()
    pids = cosim_stack.server_pids("dana")
    assert pids, "no server process found for dana"
    url = _environ(pids[0])["REDIS_URL"]
    assert url != admin_url
    assert urlsplit(url).username == acl_username("dana")
    assert urlsplit(url).password not in (None, urlsplit(admin_url).password)

    # The server reaches Redis with those credentials, only under its own names.
    assert dana.open_lab().status_code == 200
    resp = dana.request("GET", "user/dana/cosim/api/status")
    assert resp.status_code == 200, resp.text
    status = resp.json()
    assert status["redis"]["reachable"] is True
    client = redis.Redis.from_url(url)
    assert client.set("cosim:dana:build:x", "{}", ex=10)
    for key in ("cosim:admin:sims", "cosim:costguard:quotas:x"):
        with pytest.raises(NoPermissionError):
            client.set(key, "x")
    with pytest.raises(NoPermissionError):
        client.publish("cosim:admin:sim:x:control", "{}")
    client.close()
    dana.stop()
