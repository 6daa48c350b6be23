"""Login -> Lab ready in a real browser: CoSim's hub vs a stock JupyterHub + stock JupyterLab.

The baseline is what an admin would set up by hand on this machine (as root): JupyterHub and
JupyterLab alone in their own venv (the same versions CoSim runs, from Debian's Python so every
account can run it), the default authenticator (PAM, local Unix accounts made with `useradd`)
and the default spawner (LocalProcessSpawner, the server as that Unix user), the default proxy,
`default_url = "/lab"` and the `allow_all` JupyterHub >= 5 needs. CoSim is `cosim up` as shipped.

Each round logs a fresh user in on both hubs, in a fresh headless-Chromium context, and times:
submit the login form -> (CoSim: the profile form's default, submitted) -> spawn -> Lab's
launcher visible. The hub that goes first alternates; ratio is the median of per-round ratios.

Untimed harness work overlaps where it cannot touch a timed login: both hubs and Chromium start
together and each hub's users for every round are made on its start thread (useradd, or sign-up
and approval), a round's server stops while the next login page loads (the stop is awaited
before the next login is submitted), and both hubs shut down together.

--quick runs 3 rounds, the least that has a median and a spread. Its wall time is mostly the six
timed logins (9-15 s each on this 2-core machine), so it stays over a minute there; what it adds
around them is the hubs' start (cosim up's ~10 s, the others beside it), ~1 s between logins and
the hubs' stops.

--phases also splits every timed login into phases from what the browser saw (login, spawn
request, server start until the browser is sent to it, redirects and OAuth, Lab's scripts until
its first API call, Lab's start until the launcher; see _spawn_phases) and prints each side's
medians; the figures are the same with or without it.

    python benchmarks/spawn.py [--quick] [--json] [--rounds N] [--phases]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from importlib.metadata import version
from pathlib import Path
from typing import Any

import _harness  # noqa: F401 - tests/ on sys.path, for cosim_testing
import psutil
import requests
from _report import alternate, figure, headline, median, ratio_rounds, report
from _spawn_phases import PHASES, Timeline

from cosim_hub.procs import free_port, pid_alive
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
        """Kill ``name``'s server, then have the hub record the stop.

        Untimed, so it need not be graceful: after the hub's SIGINT the stock server spent 2-5 s
        exiting at a load of 7-8 (and the DELETE waits for that, the hub's checks backing off to
        5 s apart). Killed first, the hub's stop finds it gone at its first check; nothing of
        it runs while the next login is timed."""
        uid = pwd.getpwnam(name).pw_uid
        _kill(_processes_of(uid))
        if not wait_for(lambda: not _processes_of(uid), timeout=60, interval=0.05):
            raise RuntimeError(f"stock server of {name} did not stop")
        auth = {"Authorization": f"token {self.token}"}
        api = f"{self.url}/hub/api/users/{name}"
        requests.delete(f"{api}/server", timeout=60, headers=auth)

        def gone() -> bool:
            info = requests.get(api, timeout=30, headers=auth).json()
            return not (info.get("servers") or {}).get("")

        if not wait_for(gone, timeout=60, interval=0.05):
            raise RuntimeError(f"the stock hub still lists the server of {name}")

    def stop(self) -> None:
        """Kill the stock side outright: its figures are taken and it keeps nothing we need,
        while its graceful stop (the last server first, seen gone seconds late) took 4-6 s."""
        hub = psutil.Process(self.proc.pid)
        uids = [pwd.getpwnam(name).pw_uid for name in self.users]
        pids = [hub.pid, *(p.pid for p in hub.children(recursive=True))]
        pids += [pid for uid in uids for pid in _processes_of(uid)]
        _kill(pids)
        self.proc.wait()
        wait_for(lambda: not _alive(pids), timeout=30, interval=0.05)
        self.log.close()
        for name in self.users:
            subprocess.run(["userdel", "-r", name], check=False, capture_output=True)
        shutil.rmtree(self.state.parent, ignore_errors=True)


def _kill(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _alive(pids: list[int]) -> list[int]:
    """Those of ``pids`` still running (a killed child stays a zombie until its parent reaps
    it, which the hub does seconds later; a zombie runs nothing)."""
    return [pid for pid in pids if pid_alive(pid)]


def _processes_of(uid: int) -> list[int]:
    """Live processes of ``uid`` (an exited server stays a zombie until the hub reaps it)."""
    return [
        p.pid
        for p in psutil.process_iter(["uids", "status"])
        if p.info["uids"].real == uid and p.info["status"] != psutil.STATUS_ZOMBIE
    ]


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


def login_to_launcher(
    browser: Any,
    url: str,
    name: str,
    password: str,
    settle: Callable[[], None],
    phases: list[dict[str, float]] | None = None,
) -> float:
    """Seconds from submitting the hub's login form to Lab's launcher being visible.

    ``settle()`` runs just before the submit: it waits for untimed work still running in the
    background (the last round's server stopping), so nothing of ours overlaps the timing.
    ``phases``: where the seconds went (_spawn_phases) is appended there."""
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    try:
        page = context.new_page()
        timeline = Timeline(page) if phases is not None else None
        page.goto(f"{url}/hub/login")
        page.fill("input[name=username]", name)
        page.fill("input[name=password]", password)
        settle()
        if timeline is not None:
            timeline.start()
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
        elapsed = time.perf_counter() - start
        if timeline is not None and phases is not None:
            phases.append(timeline.phases(elapsed))
        return elapsed
    finally:
        context.close()


Login = tuple[str, str]  # user name, password


def start_stock(rounds: int) -> tuple[StockHub, list[Login]]:
    stock = StockHub()
    try:
        return stock, [stock.new_user() for _ in range(rounds)]
    except BaseException:
        stock.stop()
        raise


def start_cosim(rounds: int) -> tuple[CoSimStack, HubClient, list[Login]]:
    """``cosim up``, one user per round (signed up and approved, as CoSimStack.new_user minus
    its login), and an admin session that stops their servers from the background."""
    cosim = start_cosim_up(make_state_dir("cosim-bench-"))
    try:
        admin = cosim.admin_client()
        users = [(f"u{secrets.token_hex(3)}", secrets.token_urlsafe(10)) for _ in range(rounds)]
        for name, password in users:
            cosim.client().signup(name, password)
            admin.approve(name)
        return cosim, admin, users
    except BaseException:
        _stop_cosim(cosim)
        raise


def stop_cosim(started: tuple[CoSimStack, HubClient, list[Login]]) -> None:
    _stop_cosim(started[0])


def stop_stock(started: tuple[StockHub, list[Login]]) -> None:
    started[0].stop()


def _stop_cosim(cosim: CoSimStack) -> None:
    stop_cosim_up(cosim)
    shutil.rmtree(cosim.state_dir.parent, ignore_errors=True)


def _shut_down(started: Future[Any], stop: Callable[[Any], None]) -> None:
    if started.exception() is None:
        stop(started.result())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 rounds")
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    parser.add_argument("--rounds", type=int, default=None, help="rounds per hub (default 5)")
    parser.add_argument(
        "--phases", action="store_true",
        help="also time each phase of every login (_spawn_phases) and print their medians",
    )  # fmt: skip
    args = parser.parse_args()
    rounds = args.rounds or (3 if args.quick else 5)
    from playwright.sync_api import sync_playwright

    # Untimed work in the background: hub starts and their users, server stops, shutdowns.
    pool = ThreadPoolExecutor(max_workers=2)
    stock_start = pool.submit(start_stock, rounds)
    cosim_start = pool.submit(start_cosim, rounds)
    stopping: list[Future[None]] = []
    phases: dict[str, list[dict[str, float]]] | None = (
        {"cosim": [], "stock": []} if args.phases else None
    )

    def settle() -> None:
        while stopping:
            stopping.pop().result()

    def shut_down() -> list[Future[None]]:
        """Both hubs shut down together (a start that failed has nothing to stop)."""
        return [pool.submit(_shut_down, stock_start, stop_stock),
                pool.submit(_shut_down, cosim_start, stop_cosim)]  # fmt: skip

    downs: list[Future[None]] = []

    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=shutil.which("chromium"),
                                         args=CHROMIUM_ARGS)  # fmt: skip
            (stock, stock_users), (cosim, stopper, cosim_users) = (
                stock_start.result(), cosim_start.result())  # fmt: skip
            made = 0

            def last_login() -> bool:  # the hubs stop the last servers as they shut down
                return made == 2 * rounds

            def cosim_round() -> float:
                nonlocal made
                name, password = cosim_users.pop()
                elapsed = login_to_launcher(browser, cosim.url, name, password, settle,
                                            phases["cosim"] if phases else None)  # fmt: skip
                made += 1
                if not last_login():
                    stopping.append(pool.submit(stopper.stop, name))
                return elapsed

            def stock_round() -> float:
                nonlocal made
                name, password = stock_users.pop()
                elapsed = login_to_launcher(browser, stock.url, name, password, settle,
                                            phases["stock"] if phases else None)  # fmt: skip
                made += 1
                if not last_login():
                    stopping.append(pool.submit(stock.stop_server, name))
                return elapsed

            sides: dict[str, Callable[[], float]] = {"cosim": cosim_round, "stock": stock_round}
            times = alternate(rounds, sides)
            settle()
            downs = shut_down()  # while Chromium closes
            browser.close()
    finally:
        downs = downs or shut_down()
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
    if phases is not None:
        figures["phases"] = {side: {p: figure([r[p] for r in runs]) for p in PHASES}
                             for side, runs in phases.items()}  # fmt: skip
        for p in PHASES:
            mids = {side: median([r[p] for r in runs]) for side, runs in phases.items()}
            rows.append((f"  phase {p}", f"{mids['cosim']:.2f} s", f"stock {mids['stock']:.2f} s"))
    report(rows, figures, args.json, quick=args.quick)


if __name__ == "__main__":
    main()
