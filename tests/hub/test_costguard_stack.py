"""The cost guard in a real hub: real service, real Redis, real spawned servers, a fast clock.

All tests share ``cosim_guard_stack`` (1 s meter intervals, 12 s grace, one GPU in the cluster,
GPU small at $0.10 per second). Each test stops the servers it started, so the one GPU is free
for the next.
"""

from __future__ import annotations

import json
import os
import re
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis
import requests

from cosim_hub.procs import pid_alive, tagged_pids
from cosim_testing.hub_client import HubClient
from cosim_testing.procs import wait_for
from cosim_testing.stack import CoSimStack

SERVICE = "services/cosim-costguard"
_tokens: dict[str, str] = {}


def token_for(client: HubClient) -> str:
    """An API token of the client's user (inheriting their scopes), made once per user."""
    if client.user not in _tokens:
        resp = client.api("POST", f"users/{client.user}/tokens", json={"note": "costguard test"})
        assert resp.status_code == 201, resp.text
        _tokens[client.user or ""] = resp.json()["token"]
    return _tokens[client.user or ""]


def guard(stack: CoSimStack, method: str, path: str, token: str | None, **kw: Any) -> Any:
    headers = {"Authorization": f"token {token}"} if token else {}
    return requests.request(
        method, stack.public_url(f"{SERVICE}/{path}"), headers=headers, timeout=30, **kw
    )


def admin_guard(stack: CoSimStack, method: str, path: str, **kw: Any) -> Any:
    return guard(stack, method, path, token_for(stack.admin_client()), **kw)


def start(client: HubClient, profile: str | None) -> requests.Response:
    body = {"profile": profile} if profile is not None else {}
    return client.api("POST", f"users/{client.user}/server", json=body)


def started(client: HubClient, profile: str) -> None:
    resp = start(client, profile)
    assert resp.status_code in (201, 202), resp.text
    assert wait_for(client.server_ready, 90, interval=0.3)
    assert client.open_lab().status_code == 200


def running(client: HubClient) -> bool:
    info = client.api("GET", f"users/{client.user}").json()
    return bool((info.get("servers") or {}).get(""))


def banner(client: HubClient) -> dict[str, Any]:
    resp = client.request("GET", f"user/{client.user}/cosim/api/costguard")
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def usage(stack: CoSimStack) -> dict[str, Any]:
    resp = admin_guard(stack, "GET", "api/usage")
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def ledger_redis(stack: CoSimStack) -> redis.Redis:
    config = (stack.state_dir / "hub" / "jupyterhub_config.py").read_text()
    match = re.search(r"c\.CoSimHub\.redis_url = '([^']+)'", config)
    assert match
    return redis.Redis.from_url(match.group(1))


def wait_until(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


# ---- spawning within and over limits --------------------------------------------------------


def test_spawn_within_limits_then_release(cosim_guard_stack: CoSimStack) -> None:
    stack = cosim_guard_stack
    alice, _ = stack.new_user("alice")
    started(alice, "gpu-small")
    report = usage(stack)
    mine = [s for s in report["servers"] if s["user"] == "alice"]
    assert [(s["profile"], s["gpus"], s["group"]) for s in mine] == [("gpu-small", 1, "default")]
    assert report["gpus"]["cluster"] == 1
    # The server runs with the profile's limits (simulated GPU, pinned CPUs, data rlimit).
    pid = stack.server_pids("alice")[0]
    environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    assert b"COSIM_PROFILE=gpu-small" in environ and b"COSIM_GPUS=1" in environ
    limits = Path(f"/proc/{pid}/limits").read_text()
    assert re.search(r"Max data size\s+8589934592\s+8589934592", limits), limits
    status = banner(alice)
    assert (status["profile"], status["gpus"], status["cap"]) == ("gpu-small", 1, 1000.0)

    alice.stop()
    report = usage(stack)
    assert not [s for s in report["servers"] if s["user"] == "alice"]
    assert report["gpus"]["cluster"] == 0
    assert report["spend"]["users"]["alice"] >= 0.1  # at least one interval, charged at release


def test_unknown_and_forbidden_profiles(cosim_guard_stack: CoSimStack) -> None:
    bob, _ = cosim_guard_stack.new_user("bob")
    resp = start(bob, "quantum")
    assert resp.status_code == 400
    assert resp.json()["message"] == (
        "unknown profile 'quantum'; choose one of: cpu, gpu-small, cpu-idle"
    )
    resp = start(bob, "50%s off")
    assert resp.status_code == 400 and "unknown profile '50%s off'" in resp.json()["message"]
    resp = start(bob, "gpu-large")
    assert resp.status_code == 403
    assert "is for the group(s) research" in resp.text
    assert not running(bob)
    # Joining the group opens the profile; the user limit (1 GPU) still applies to 2 GPUs.
    admin = cosim_guard_stack.admin_client()
    assert admin.api("POST", "groups/research", json={"users": ["bob"]}).status_code in (201, 409)
    resp = start(bob, "gpu-large")
    assert resp.status_code == 403 and "of your 1 GPU(s)" in resp.text
    assert not running(bob)


def test_gpu_concurrency_and_race(cosim_guard_stack: CoSimStack) -> None:
    stack = cosim_guard_stack
    erin, _ = stack.new_user("erin")
    frank, _ = stack.new_user("frank")
    started(erin, "gpu-small")
    resp = start(frank, "gpu-small")
    assert resp.status_code == 403
    assert "all 1 GPU(s) of the cluster are in use" in resp.text
    assert "You may start instead: CPU (1 core, 4 GB) ($0.36/h)" in resp.text
    erin.stop()

    # Two spawns for the last GPU at the same moment: exactly one wins.
    results: dict[str, int] = {}

    def go(client: HubClient) -> None:
        results[client.user or ""] = start(client, "gpu-small").status_code

    threads = [threading.Thread(target=go, args=(c,)) for c in (erin, frank)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results.values()) in ([201, 403], [202, 403]), results
    winner = erin if results["erin"] in (201, 202) else frank
    assert wait_for(winner.server_ready, 90, interval=0.3)
    winner.stop()
    assert usage(stack)["refused"]["gpu_cluster"] >= 2


def test_spend_cap_warns_then_stops_after_grace(cosim_guard_stack: CoSimStack) -> None:
    stack = cosim_guard_stack
    dave, _ = stack.new_user("dave")
    started(dave, "gpu-small")
    # The cap is set once the server runs, $0.90 (9 s) above what the spawn already cost: how
    # long a spawn takes, and so what it is charged, varies with the machine's load.
    cap = round(usage(stack)["spend"]["users"].get("dave", 0.0) + 0.9, 2)
    resp = admin_guard(stack, "PUT", "api/quotas/user/dave", json={"spend_cap": cap})
    assert resp.status_code == 200, resp.text
    seen: list[str] = []

    def step() -> bool:
        resp = dave.request("GET", "user/dave/cosim/api/costguard")
        notice = resp.json().get("notice") if resp.status_code == 200 else None
        if notice and (not seen or seen[-1] != notice["kind"]):
            seen.append(notice["kind"])
        return not running(dave)

    wait_until(step, 60, "the cost guard to stop dave's server")
    assert seen[:2] == ["spend-warning", "spend-over"], seen
    report = usage(stack)
    assert report["spend"]["users"]["dave"] >= cap
    assert not [s for s in report["servers"] if s["user"] == "dave"]
    assert (stack.state_dir / "users" / "dave").is_dir()  # files are kept
    # Over the cap: GPU refused with the reason, CPU still starts.
    resp = start(dave, "gpu-small")
    assert resp.status_code == 403 and "monthly spend cap is reached" in resp.text
    started(dave, "cpu")
    dave.stop()


def test_idle_server_is_warned_then_culled(cosim_guard_stack: CoSimStack) -> None:
    ivy, _ = cosim_guard_stack.new_user("ivy")
    started(ivy, "cpu-idle")
    # A kernel that sits idle is no activity: the server is culled with it running.
    resp = ivy.request("POST", "user/ivy/api/kernels", json={"name": "python3"})
    assert resp.status_code == 201, resp.text
    kernel_started = time.monotonic()
    notice = wait_until(lambda: banner(ivy).get("notice"), 30, "an idle warning")
    assert notice["kind"] == "cull-idle" and "idle" in notice["message"]
    assert "your files are kept" in notice["message"]
    wait_until(lambda: not running(ivy), 40, "the idle cull")
    # Not before the idle timeout (10 s) counted from the kernel's start, which was activity.
    assert time.monotonic() - kernel_started >= 8


# ---- spend privacy: each user sees their own figures, nobody else's ----------------------------


def test_each_user_sees_only_their_own_spend(cosim_guard_stack: CoSimStack) -> None:
    stack = cosim_guard_stack
    penny, _ = stack.new_user("penny")
    quinn, _ = stack.new_user("quinn")
    month = time.strftime("%Y-%m", time.gmtime())
    ledger_redis(stack).hset(
        f"cosim:costguard:spend:{month}", mapping={"user:penny": 700_000_000}
    )  # $700 in micro units
    assert admin_guard(stack, "PUT", "api/quotas/user/penny", json={"spend_cap": 900}).ok

    # The service's api/self answers with the token owner's figures; no parameter names another.
    own = guard(stack, "GET", "api/self", token_for(penny))
    assert own.status_code == 200, own.text
    assert own.json()["spend"] == 700.0 and own.json()["cap"] == 900
    for path in ("api/self", "api/self?user=penny", "api/self?server=../penny"):
        resp = guard(stack, "GET", path, token_for(quinn))
        assert resp.status_code in (200, 400), (path, resp.text)
        assert "700" not in resp.text and "900" not in resp.text, (path, resp.text)
    # A token of quinn's without the self scope, or none: refused.
    resp = quinn.api("POST", "users/quinn/tokens", json={"scopes": ["read:users:name!user"]})
    assert resp.status_code == 201, resp.text
    assert guard(stack, "GET", "api/self", resp.json()["token"]).status_code == 403
    assert guard(stack, "GET", "api/self", None).status_code == 403

    # End to end: quinn's Lab banner (his server asks with its own token) shows his figures.
    started(quinn, "cpu")
    try:
        body = banner(quinn)
        assert body["available"] and body["profile"] == "cpu", body
        assert body["spend"] < 700 and body["cap"] != 900, body
    finally:
        quinn.stop()


# ---- the admin page, API and metrics -----------------------------------------------------------


def test_usage_page_and_api_for_admins_only(cosim_guard_stack: CoSimStack) -> None:
    stack = cosim_guard_stack
    admin = stack.admin_client()
    page = admin.request("GET", f"{SERVICE}/")
    assert page.status_code == 200 and "CoSim usage" in page.text
    assert 'id="hub-home" href="/hub/home"' in page.text  # a way back to the hub
    assert 'id="quota-form"' in page.text and "default:user" in page.text

    # Malformed quotas: 400 with a message, nothing stored.
    for path, body in [
        ("api/quotas/user/gus", {"gpu_limit": -2}),
        ("api/quotas/user/gus", {"spend_cap": "lots"}),
        ("api/quotas/user/gus", ["not", "an", "object"]),
        ("api/quotas/cluster/extra", {"gpu_limit": 1}),
        ("api/quotas/default/nobody", {"gpu_limit": 1}),
    ]:
        resp = admin_guard(stack, "PUT", path, json=body)
        assert resp.status_code == 400, (path, resp.text)
        assert resp.json()["message"]
    resp = admin_guard(stack, "PUT", "api/quotas/user/gus", data=b"{not json")
    assert resp.status_code == 400
    assert "user:gus" not in admin_guard(stack, "GET", "api/quotas").json()
    resp = admin_guard(stack, "PUT", "api/quotas/group/research", json={"gpu_limit": 2})
    assert resp.json() == {"scope": "group:research", "gpu_limit": 2, "spend_cap": None}
    assert admin_guard(stack, "GET", "api/quotas/group/research").json()["gpu_limit"] == 2
    assert admin_guard(stack, "DELETE", "api/quotas/group/research").status_code == 204
    resp = admin_guard(stack, "DELETE", "api/quotas/group/research")
    assert resp.status_code == 404 and resp.json()["message"] == "no quota set for group:research"
    resp = admin_guard(stack, "GET", "api/quotas/user/%25s%25d")
    assert resp.status_code == 404 and resp.json()["message"] == "no quota set for user:%s%d"

    # A normal user: refused on the page, the API (with their own token) and metrics.
    hal, _ = stack.new_user("hal")
    assert hal.request("GET", f"{SERVICE}/").status_code == 403
    hal_token = token_for(hal)
    for method, path in [("GET", "api/usage"), ("GET", "api/quotas"), ("GET", "metrics"),
                         ("PUT", "api/quotas/user/hal")]:  # fmt: skip
        resp = guard(stack, method, path, hal_token, json={"spend_cap": 1e6})
        assert resp.status_code == 403, (method, path, resp.status_code)
    # Anonymous: API 403, page redirected to the hub login.
    assert guard(stack, "GET", "api/usage", None).status_code == 403
    resp = requests.get(stack.public_url(f"{SERVICE}/"), allow_redirects=False, timeout=10)
    assert resp.status_code == 302 and "/hub/api/oauth2/authorize" in resp.headers["Location"]


def test_metrics(cosim_guard_stack: CoSimStack) -> None:
    stack = cosim_guard_stack
    kim, _ = stack.new_user("kim")
    started(kim, "cpu")
    try:
        text = admin_guard(stack, "GET", "metrics").text
        assert 'cosim_running_servers{profile="cpu"}' in text
        assert 'cosim_gpus_in_use{name="",scope="cluster"}' in text
        assert re.search(r'cosim_spend_month\{group="default"\} [0-9.]+', text)
        assert 'cosim_reservations_refused_total{reason="gpu_cluster"}' in text
        assert "cosim_meter_lag_seconds" in text and "cosim_gpu_limit_cluster 1.0" in text
        hub_metrics = requests.get(
            f"{stack.url}/hub/metrics",
            headers={"Authorization": f"token {token_for(stack.admin_client())}"},
            timeout=10,
        ).text
        assert 'cosim_spawn_refused_total{reason="gpu_cluster"}' in hub_metrics
        assert "cosim_spawn_decision_seconds_count" in hub_metrics
    finally:
        kim.stop()


# ---- faults ----------------------------------------------------------------------------------


def _pids(stack: CoSimStack, needle: bytes) -> list[int]:
    found = []
    for pid in tagged_pids(stack.launch_id):
        try:
            if needle in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(pid)
        except OSError:
            continue
    return found


def _redis_pids(port: int) -> list[int]:
    """redis-server rewrites its title (and with it the environ we tag), so find it by port."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if b"redis-server" in cmdline.split(b" ")[0] and f":{port}".encode() in cmdline:
            found.append(int(entry.name))
    return found


def test_redis_unreachable_fails_closed_for_gpu_and_recovers(cosim_guard_stack: CoSimStack) -> None:
    stack = cosim_guard_stack
    lee, _ = stack.new_user("lee")
    mia, _ = stack.new_user("mia")
    started(mia, "cpu")
    port = ledger_redis(stack).connection_pool.connection_kwargs["port"]
    [redis_pid] = _redis_pids(port)
    os.kill(redis_pid, signal.SIGSTOP)  # Redis stops answering
    try:
        resp = start(lee, "gpu-small")
        assert resp.status_code == 503
        assert "cannot reach its ledger (Redis), so GPU servers cannot start now" in resp.text
        assert running(mia)  # running servers are untouched
        started(lee, "cpu")  # CPU still starts
        lee.stop()
    finally:
        os.kill(redis_pid, signal.SIGCONT)
    # Back by itself: the next GPU spawn is decided on the ledger again.
    started(lee, "gpu-small")
    assert [s["user"] for s in usage(stack)["servers"] if s["gpus"]] == ["lee"]
    lee.stop()
    mia.stop()


def _intervals(ledger: redis.Redis) -> list[int]:
    month = time.strftime("%Y-%m", time.gmtime())
    keys = ledger.hkeys(f"cosim:costguard:charges:{month}")
    return sorted(int(k.split(b"|")[1]) for k in keys if k.startswith(b"ned/|"))


def test_meter_killed_and_restarted_never_double_charges(cosim_guard_stack: CoSimStack) -> None:
    stack = cosim_guard_stack
    ned, _ = stack.new_user("ned")
    [service] = _pids(stack, b"cosim_hub.costguard")
    started(ned, "gpu-small")
    ledger = ledger_redis(stack)
    try:
        time.sleep(2.5)
        os.kill(service, signal.SIGKILL)
        # The hub notices the dead service (it polls every 30 s) and starts it again.
        restarted = wait_until(
            lambda: [p for p in _pids(stack, b"cosim_hub.costguard") if p != service],
            60,
            "the hub to restart the cost guard",
        )
        assert not pid_alive(service) and restarted
        time.sleep(3.0)  # a few passes of the new meter
        # The new meter caught up on every interval it missed: none lost but the current one.
        now_index = int(time.time())
        intervals = _intervals(ledger)
        assert intervals == list(range(intervals[0], intervals[-1] + 1)), intervals
        assert intervals[-1] >= now_index - 1, (intervals, now_index)
        ned.stop()
        # Every interval from start to stop charged exactly once: no gap, no duplicate.
        intervals = _intervals(ledger)
        assert intervals == list(range(intervals[0], intervals[-1] + 1)), intervals
        assert len(intervals) >= 6
        month = time.strftime("%Y-%m", time.gmtime())
        charges = ledger.hgetall(f"cosim:costguard:charges:{month}")
        spent = int(ledger.hget(f"cosim:costguard:spend:{month}", "user:ned") or 0)
        assert spent == sum(int(v) for k, v in charges.items() if k.startswith(b"ned/|"))
        assert spent == len(intervals) * 100_000  # $0.10 per 1 s interval, in micro-units
        # The meter also journals what it charged, outside Redis.
        journal = stack.state_dir / "costguard" / "ledger.jsonl"
        entries = [json.loads(line) for line in journal.read_text().splitlines()]
        assert sum(e.get("intervals_charged", 0) for e in entries if e["server"] == "ned/") >= 3
    finally:
        ledger.close()
