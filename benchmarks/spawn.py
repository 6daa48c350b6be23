"""Login -> Lab ready in a real browser: CoSim's hub vs a stock JupyterHub + stock JupyterLab.

The baseline is what an admin would set up by hand on this machine (as root): JupyterHub and
JupyterLab alone in their own venv (the same versions CoSim runs, from Debian's Python so every
account can run it), the default authenticator (PAM, local Unix accounts made with `useradd`)
and the default spawner (LocalProcessSpawner, the server as that Unix user), the default proxy,
`default_url = "/lab"` and the `allow_all` JupyterHub >= 5 needs. CoSim is `cosim up` as shipped.

Each round makes a fresh user on both hubs (untimed), then in a fresh headless-Chromium context
times: submit the login form -> (CoSim: the profile form's default, submitted) -> spawn -> Lab's
launcher visible. The hub that goes first alternates; ratio is the median of per-round ratios.

Untimed harness work overlaps where it cannot touch a timed login: both hubs and Chromium start
together, a round's server stops while the next user is made and its login page loads (the
stop is awaited before the next login is submitted), and both hubs shut down together.

--quick runs 2 rounds, not 3: one login -> launcher takes 9-15 s per hub on this 2-core machine,
so 3 rounds of both hubs alone would take longer than a minute. Each hub still goes first once.

    python benchmarks/spawn.py [--quick] [--json] [--rounds N]
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from importlib.metadata import version
from pathlib import Path
from typing import Any

import _harness  # noqa: F401 - tests/ on sys.path, for cosim_testing
import requests
from _report import alternate, figure, headline, median, ratio_rounds, report

from cosim_hub.procs import free_port, terminate
from cosim_testing.hub_client import HubClient
from cosim_testing.plugin import CHROMIUM_ARGS
from cosim_testing.procs import wait_for
from cosim_testing.stack import CoSimStack, make_state_dir, start_cosim_up, stop_cosim_up

# Where the stock environment is kept between runs (world-readable: servers run as other users).
STOCK_VENV = Path(os.environ.get("COSIM_BENCH_STOCK_VENV", "/var/tmp/cosim-bench-stock"))
STOCK_CONFIG = """
c.JupyterHub.bind_url = "http://127.0.0.1:{port}/"
c.JupyterHub.hub_port = {hub_port}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{api_port}"
c.ConfigurableHTTPProxy.pid_file = "{state}/proxy.pid"
c.JupyterHub.db_url = "sqlite:///{state}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = "{state}/cookie_secret"
c.Authenticator.allow_all = True
c.Spawner.default_url = "/lab"
c.Spawner.cmd = ["{venv}/bin/jupyterhub-singleuser"]
# The benchmark's own token, only to stop servers between rounds.
c.JupyterHub.services = [{{"name": "bench", "api_token": "{token}"}}]
c.JupyterHub.load_roles = [{{"name": "bench", "scopes": ["admin:servers"], "services": ["bench"]}}]
"""
LAUNCHER = ".jp-Launcher"


def stock_venv() -> Path:
    """A venv with only JupyterHub and JupyterLab, at the versions CoSim's environment has."""
    pins = [f"{p}=={version(p)}" for p in ("jupyterhub", "jupyterlab", "jupyter_server")]
    stamp = STOCK_VENV / "pins.txt"
    if not stamp.is_file() or stamp.read_text() != "\n".join(pins):
        shutil.rmtree(STOCK_VENV, ignore_errors=True)
        subprocess.run(["/usr/bin/python3.11", "-m", "venv", str(STOCK_VENV)], check=True)
        subprocess.run([str(STOCK_VENV / "bin/pip"), "install", "-q", *pins], check=True)
        stamp.write_text("\n".join(pins))
    return STOCK_VENV


class StockHub:
    """Stock JupyterHub (PAM + LocalProcessSpawner) on free ports, users made with useradd."""

    def __init__(self) -> None:
        venv = stock_venv()
        self.state = make_state_dir("cosim-bench-stock-")
        (self.state / "homes").mkdir(parents=True)
        os.chmod(self.state, 0o711)
        os.chmod(self.state.parent, 0o711)
        self.port = free_port()
        self.token = secrets.token_hex(16)
        self.prefix = f"cs{secrets.token_hex(2)}"
        self.users: list[str] = []
        config = self.state / "jupyterhub_config.py"
        config.write_text(STOCK_CONFIG.format(
            port=self.port, hub_port=free_port(), api_port=free_port(), state=self.state,
            venv=venv, token=self.token))  # fmt: skip
        self.log = open(self.state / "hub.log", "wb")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(
            [str(venv / "bin/jupyterhub"), "-f", str(config)],
            cwd=self.state, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, "PATH": f"{venv}/bin:{os.environ['PATH']}"},
        )  # fmt: skip
        self.url = f"http://127.0.0.1:{self.port}"
        if not wait_for(lambda: _answers(f"{self.url}/hub/api/"), timeout=60, interval=0.2):
            self.stop()
            raise RuntimeError(f"stock hub did not start; see {self.state / 'hub.log'}")

    def new_user(self) -> tuple[str, str]:
        name = f"{self.prefix}{len(self.users)}"
        password = secrets.token_urlsafe(10)
        subprocess.run(["useradd", "-m", "-b", str(self.state / "homes"), name], check=True)
        subprocess.run(["chpasswd"], input=f"{name}:{password}", text=True, check=True)
        self.users.append(name)
        return name, password

    def stop_server(self, name: str) -> None:
        """Stop ``name``'s server and wait until the hub has it gone (the DELETE alone answers
        202 and stops in the background when the stop is slow)."""
        auth = {"Authorization": f"token {self.token}"}
        api = f"{self.url}/hub/api/users/{name}"
        requests.delete(f"{api}/server", timeout=60, headers=auth)

        def gone() -> bool:
            info = requests.get(api, timeout=30, headers=auth).json()
            return not (info.get("servers") or {}).get("")

        if not wait_for(gone, timeout=60, interval=0.1):
            raise RuntimeError(f"stock server of {name} did not stop")

    def stop(self) -> None:
        terminate([self.proc.pid], grace=30)
        self.proc.wait()
        self.log.close()
        for name in self.users:
            subprocess.run(["userdel", "-r", name], check=False, capture_output=True)
        shutil.rmtree(self.state.parent, ignore_errors=True)


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


def login_to_launcher(
    browser: Any, url: str, name: str, password: str, settle: Callable[[], None]
) -> float:
    """Seconds from submitting the hub's login form to Lab's launcher being visible.

    ``settle()`` runs just before the submit: it waits for untimed work still running in the
    background (the last round's server stopping), so nothing of ours overlaps the timing."""
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    try:
        page = context.new_page()
        page.goto(f"{url}/hub/login")
        page.fill("input[name=username]", name)
        page.fill("input[name=password]", password)
        settle()
        start = time.perf_counter()
        page.click("input[type=submit], button[type=submit]")
        page.wait_for_selector(f"#spawn_form, {LAUNCHER}", timeout=180_000)
        if page.locator("#spawn_form").count():  # CoSim's profile choice: keep the default
            page.click("#spawn_form button[type=submit]")
        launcher = page.locator(LAUNCHER).first
        # The hub's pending page says "Spawn failed" (e.g. the server took longer than the
        # hub's http_timeout on a loaded machine): stop there instead of waiting it out.
        launcher.or_(page.get_by_text("Spawn failed")).first.wait_for(timeout=180_000)
        if not launcher.is_visible():
            text = page.locator("body").inner_text(timeout=5_000)[:400]
            raise RuntimeError(f"no launcher for {name} at {page.url}: {text!r}")
        return time.perf_counter() - start
    finally:
        context.close()


def start_cosim() -> tuple[CoSimStack, HubClient, HubClient]:
    """``cosim up`` and two admin sessions: one to approve users, one to stop their servers
    from the background (a requests session is not for two threads at once)."""
    cosim = start_cosim_up(make_state_dir("cosim-bench-"))
    try:
        return cosim, cosim.admin_client(), cosim.admin_client()
    except BaseException:
        _stop_cosim(cosim)
        raise


def stop_cosim(started: tuple[CoSimStack, HubClient, HubClient]) -> None:
    _stop_cosim(started[0])


def _stop_cosim(cosim: CoSimStack) -> None:
    stop_cosim_up(cosim)
    shutil.rmtree(cosim.state_dir.parent, ignore_errors=True)


def _shut_down(started: Future[Any], stop: Callable[[Any], None]) -> None:
    if started.exception() is None:
        stop(started.result())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 rounds (under a minute)")
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    parser.add_argument("--rounds", type=int, default=None, help="rounds per hub (default 5)")
    args = parser.parse_args()
    rounds = args.rounds or (2 if args.quick else 5)
    from playwright.sync_api import sync_playwright

    # Untimed work in the background: hub starts, server stops, shutdowns.
    pool = ThreadPoolExecutor(max_workers=2)
    stock_start = pool.submit(StockHub)
    cosim_start = pool.submit(start_cosim)
    stopping: list[Future[None]] = []

    def settle() -> None:
        while stopping:
            stopping.pop().result()

    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=shutil.which("chromium"),
                                         args=CHROMIUM_ARGS)  # fmt: skip
            stock, (cosim, admin, stopper) = stock_start.result(), cosim_start.result()
            made = 0

            def last_login() -> bool:  # the hubs stop the last servers as they shut down
                return made == 2 * rounds

            def cosim_round() -> float:
                nonlocal made
                name = f"u{secrets.token_hex(3)}"
                password = secrets.token_urlsafe(10)
                cosim.client().signup(name, password)  # as CoSimStack.new_user, minus logins
                admin.approve(name)
                elapsed = login_to_launcher(browser, cosim.url, name, password, settle)
                made += 1
                if not last_login():
                    stopping.append(pool.submit(stopper.stop, name))
                return elapsed

            def stock_round() -> float:
                nonlocal made
                name, password = stock.new_user()
                elapsed = login_to_launcher(browser, stock.url, name, password, settle)
                made += 1
                if not last_login():
                    stopping.append(pool.submit(stock.stop_server, name))
                return elapsed

            sides: dict[str, Callable[[], float]] = {"cosim": cosim_round, "stock": stock_round}
            times = alternate(rounds, sides)
            settle()
            browser.close()
    finally:
        # Both hubs shut down together (a start that failed has nothing to stop).
        downs = [pool.submit(_shut_down, stock_start, StockHub.stop),
                 pool.submit(_shut_down, cosim_start, stop_cosim)]  # fmt: skip
        pool.shutdown(wait=True)
        for down in downs:
            down.result()

    ratios = ratio_rounds(times["cosim"], times["stock"])
    figures = {
        "cosim_s": round(median(times["cosim"]), 3),
        "plain_s": round(median(times["stock"]), 3),
        "ratio": round(median(ratios), 3),
        "rounds": rounds,
        "detail": {"ratio": figure(ratios), "cosim_s": figure(times["cosim"]),
                   "stock_s": figure(times["stock"])},
    }  # fmt: skip
    rows = [
        ("CoSim (cosim up)", f"{median(times['cosim']):.2f} s", "login -> launcher visible"),
        ("stock JupyterHub + JupyterLab", f"{median(times['stock']):.2f} s",
         "PAM, LocalProcessSpawner"),
        headline("ratio CoSim / stock", ratios, "<= 1.05"),
    ]  # fmt: skip
    report(rows, figures, args.json, quick=args.quick)


if __name__ == "__main__":
    main()
