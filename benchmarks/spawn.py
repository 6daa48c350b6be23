"""Login-to-Lab-ready time: CoSim's hub vs a plain JupyterHub with the same spawner, same run.

The plain hub is stock JupyterHub + stock NativeAuthenticator (the same bcrypt password check)
+ the same local spawner and environment, with CoSim's server extension switched off: the
difference is what CoSim's configuration and extension add.

Each round creates a fresh user on both hubs (so account creation is in both), then times:
POST /hub/login -> start the server -> the server answers -> GET /user/<name>/lab through the
OAuth redirect dance answers 200. Rounds alternate which hub goes first, to spread the noise.

    python benchmarks/spawn.py [--quick] [--json] [--rounds N]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import _harness  # noqa: F401 - tests/ on sys.path, for cosim_testing

from cosim_hub.procs import free_port, tagged_pids, terminate
from cosim_testing.hub_client import HubClient
from cosim_testing.procs import wait_for
from cosim_testing.stack import make_state_dir, start_cosim_up, stop_cosim_up

PLAIN_CONFIG = """
c.JupyterHub.bind_url = "http://127.0.0.1:{port}/"
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {hub_port}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{api_port}"
c.ConfigurableHTTPProxy.pid_file = "{state}/proxy.pid"
c.JupyterHub.db_url = "sqlite:///{state}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = "{state}/cookie_secret"
# Stock NativeAuthenticator (bcrypt-hashed local accounts, as CoSim uses), open sign-up.
c.JupyterHub.authenticator_class = "nativeauthenticator.NativeAuthenticator"
c.NativeAuthenticator.open_signup = True
c.Authenticator.allow_all = True
c.JupyterHub.spawner_class = "cosim_hub.spawner.CoSimLocalSpawner"
c.CoSimLocalSpawner.homes_dir = "{state}/users"
c.CoSimLocalSpawner.account_prefix = "{prefix}"
c.Spawner.cmd = ["{singleuser}"]
c.Spawner.default_url = "/lab"
# The same environment, without CoSim's server extension.
c.Spawner.args = ["--ServerApp.jpserver_extensions=cosim_server=False"]
"""


class PlainHub:
    """A stock JupyterHub (DummyAuthenticator, no CoSim config) on free ports."""

    def __init__(self) -> None:
        self.state = make_state_dir("cosim-bench-plain-")
        self.state.mkdir(parents=True)
        os.chmod(self.state, 0o711)
        self.port = free_port()
        self.password = secrets.token_urlsafe(8)
        self.prefix = f"cb{secrets.token_hex(2)}-"
        self.launch_id = secrets.token_hex(8)
        config = self.state / "jupyterhub_config.py"
        config.write_text(
            PLAIN_CONFIG.format(
                port=self.port,
                hub_port=free_port(),
                api_port=free_port(),
                state=self.state,
                password=self.password,
                prefix=self.prefix,
                singleuser=Path(sys.executable).parent / "jupyterhub-singleuser",
            )
        )
        env = {**os.environ, "COSIM_LAUNCH_ID": self.launch_id}
        self.log = open(self.state / "hub.log", "wb")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jupyterhub", "-f", str(config)],
            cwd=self.state,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.url = f"http://127.0.0.1:{self.port}"
        if not wait_for(lambda: _answers(f"{self.url}/hub/api/"), timeout=60, interval=0.2):
            self.stop()
            raise RuntimeError(f"plain hub did not start; see {self.state / 'hub.log'}")

    def new_user(self) -> tuple[HubClient, Callable[[], HubClient]]:
        name = f"u{secrets.token_hex(3)}"
        client = HubClient(self.url)
        client.signup(name, self.password)
        return client, lambda: client.login(name, self.password)

    def stop(self) -> None:
        terminate([self.proc.pid], grace=30)
        self.proc.wait()
        self.log.close()
        terminate(tagged_pids(self.launch_id), grace=5)
        for line in Path("/etc/passwd").read_text().splitlines():
            if line.startswith(self.prefix):
                subprocess.run(["userdel", line.split(":")[0]], check=False, capture_output=True)
        shutil.rmtree(self.state.parent, ignore_errors=True)


def _answers(url: str) -> bool:
    import requests

    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


def time_login_to_lab(login: Callable[[], HubClient]) -> tuple[float, HubClient]:
    start = time.perf_counter()
    client = login()
    client.spawn(timeout=120)
    resp = client.open_lab()
    elapsed = time.perf_counter() - start
    if resp.status_code != 200 or "jupyter-config-data" not in resp.text:
        raise RuntimeError(f"Lab did not load for {client.user}: {resp.status_code}")
    return elapsed, client


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 rounds (under 60 s)")
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    parser.add_argument("--rounds", type=int, default=None, help="rounds per hub (default 5)")
    args = parser.parse_args()
    rounds = args.rounds or (2 if args.quick else 5)

    cosim = start_cosim_up(make_state_dir("cosim-bench-"))
    plain = PlainHub()
    times: dict[str, list[float]] = {"cosim": [], "plain": []}
    try:
        for i in range(rounds):
            order = ["cosim", "plain"] if i % 2 == 0 else ["plain", "cosim"]
            for which in order:
                if which == "cosim":
                    name = f"u{secrets.token_hex(3)}"
                    _, password = cosim.new_user(name)

                    def login(name: str = name, password: str = password) -> HubClient:
                        return cosim.client().login(name, password)
                else:
                    _, login = plain.new_user()
                elapsed, client = time_login_to_lab(login)
                times[which].append(elapsed)
                client.stop()
    finally:
        plain.stop()
        stop_cosim_up(cosim)
        shutil.rmtree(cosim.state_dir.parent, ignore_errors=True)

    cosim_s = statistics.median(times["cosim"])
    plain_s = statistics.median(times["plain"])
    ratio = cosim_s / plain_s
    print(f"login -> Lab ready, {rounds} rounds each, median (min-max) in seconds")
    print(f"{'hub':<28}{'median':>8}{'min':>8}{'max':>8}")
    for label, key in (("CoSim (cosim up)", "cosim"), ("plain JupyterHub", "plain")):
        t = times[key]
        print(f"{label:<28}{statistics.median(t):8.2f}{min(t):8.2f}{max(t):8.2f}")
    print(f"{'ratio CoSim / plain':<28}{ratio:8.3f}   (goal <= 1.05)")
    if args.json:
        print(json.dumps({"cosim_s": round(cosim_s, 3), "plain_s": round(plain_s, 3),
                          "ratio": round(ratio, 3), "rounds": rounds}))  # fmt: skip


if __name__ == "__main__":
    main()
