"""Running user programs so that no program can hurt the kernel, the server or the machine.

Each run gets rlimits (CPU seconds, address space, file size, processes), a wall-clock timeout,
an output cap, its own process group (killed as a whole on timeout, interrupt, cap, or exit, so
nothing it forked lingers) and an environment without Jupyter/hub tokens. stdout is a pty, so
the C library line-buffers it and output arrives as it is printed, not when the program ends.

As root (tests, single-user setups) the program runs as an unprivileged account
(``run_as_when_root``), because the kernel does not apply the process limit to root.
"""

from __future__ import annotations

import asyncio
import codecs
import fnmatch
import os
import pty
import pwd
import resource
import signal
import termios
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil
from traitlets import Float, Int, List, Unicode
from traitlets.config import Configurable

OutputCallback = Callable[[str, str], None]  # (stream name "stdout"/"stderr", text)
CHUNK = 65536
SCRUBBED_ENV = ["JUPYTERHUB_*", "JPY_*", "JUPYTER_TOKEN", "*TOKEN*", "*SECRET*", "*PASSWORD*",
                "*API_KEY*", "REDIS_URL"]  # fmt: skip


class CoSimCppSandbox(Configurable):
    """Limits for programs (and debuggers) the C++ kernel and build endpoint run."""

    timeout_s = Float(
        60.0,
        help="""Wall-clock seconds a run may take before its process group is killed. A cell's
        ``%%run --timeout S`` may ask for less, never more.""",
    ).tag(config=True)
    cpu_s = Int(
        30, help="CPU seconds per process (RLIMIT_CPU); past it the process is killed."
    ).tag(config=True)
    memory_bytes = Int(
        2 * 1024**3,
        help="Address space per process in bytes (RLIMIT_AS); bigger allocations fail. 2 GiB.",
    ).tag(config=True)
    file_bytes = Int(
        256 * 1024**2,
        help="Largest file a program may write, in bytes (RLIMIT_FSIZE). 256 MiB.",
    ).tag(config=True)
    processes = Int(
        64,
        help="""Processes and threads a run may add (RLIMIT_NPROC, counted on top of what the
        account already runs): a fork bomb stops here.""",
    ).tag(config=True)
    output_bytes = Int(
        1024**2,
        help="Bytes of output shown per run; past it the run is stopped and the output cut. 1 MiB.",
    ).tag(config=True)
    run_as_when_root = Unicode(
        "nobody", help="Account that runs programs when the server runs as root (never root)."
    ).tag(config=True)
    scrub_env = List(
        Unicode(),
        SCRUBBED_ENV,
        help="Environment variables (shell-style patterns) removed before a program runs.",
    ).tag(config=True)


@dataclass
class RunResult:
    exit_code: int | None  # None when killed by a signal
    signal: int | None
    timed_out: bool
    truncated: bool
    interrupted: bool
    seconds: float
    timeout_s: float
    limits: CoSimCppSandbox

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not (self.timed_out or self.truncated or self.interrupted)

    @property
    def message(self) -> str:
        """One line for users: why the program stopped, when that was not a normal exit 0."""
        lim = self.limits
        if self.interrupted:
            return "interrupted: the program was killed"
        if self.timed_out:
            return f"killed: the program ran past the {self.timeout_s:g} s time limit"
        if self.truncated:
            return f"output truncated after {lim.output_bytes} bytes; the program was stopped"
        if self.signal is not None:
            name = signal.Signals(self.signal).name
            hint = {
                signal.SIGXCPU: f"CPU time limit of {lim.cpu_s} s reached",
                signal.SIGXFSZ: f"file size limit of {lim.file_bytes} bytes reached",
                signal.SIGSEGV: "segmentation fault (bad pointer, or an allocation past the "
                f"{_gib(lim.memory_bytes)} memory limit failed)",
                signal.SIGABRT: f"aborted (an allocation past the {_gib(lim.memory_bytes)} "
                "memory limit throws std::bad_alloc)",
                signal.SIGKILL: "killed",
            }.get(signal.Signals(self.signal), "killed by a signal")
            return f"{name}: {hint}"
        if self.exit_code:
            return f"exit code {self.exit_code}"
        return ""


def _gib(n: int) -> str:
    return f"{n / 1024**3:g} GiB"


def scrubbed_env(limits: CoSimCppSandbox, base: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ if base is None else base)
    for name in list(env):
        if any(fnmatch.fnmatchcase(name.upper(), p.upper()) for p in limits.scrub_env):
            del env[name]
    env["TERM"] = "dumb"
    return env


def _tasks_of(uid: int) -> int:
    """Processes and threads ``uid`` runs now (what RLIMIT_NPROC counts)."""
    return sum(
        proc.info["num_threads"] or 0
        for proc in psutil.process_iter(["uids", "num_threads"])
        if proc.info["uids"] is not None and proc.info["uids"].effective == uid
    )


def _kill_group(pgid: int) -> None:
    """SIGKILL the whole group until it is empty (a fork bomb forks while being killed)."""
    for _ in range(200):
        try:
            os.killpg(pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            return
        time.sleep(0.005)


class Sandbox:
    """One run of one program under ``limits``."""

    def __init__(self, limits: CoSimCppSandbox) -> None:
        self.limits = limits
        self.proc: asyncio.subprocess.Process | None = None
        self.interrupted = False

    def interrupt(self) -> None:
        """Kill the running program's group (from a signal handler or another task)."""
        self.interrupted = True
        if self.proc is not None and self.proc.returncode is None:
            _kill_group(self.proc.pid)

    def _account(self) -> tuple[int | None, int | None]:
        if os.geteuid() != 0:
            return None, None
        try:
            entry = pwd.getpwnam(self.limits.run_as_when_root)
        except KeyError:
            raise RuntimeError(
                f"the server runs as root and programs never do, but the account "
                f"{self.limits.run_as_when_root!r} (CoSimCppSandbox.run_as_when_root) is missing"
            ) from None
        if entry.pw_uid == 0:
            raise RuntimeError("CoSimCppSandbox.run_as_when_root must not be a root account")
        return entry.pw_uid, entry.pw_gid

    async def run(
        self, argv: Sequence[str], cwd: Path, on_output: OutputCallback, *,
        timeout_s: float | None = None, env: Mapping[str, str] | None = None,
    ) -> RunResult:  # fmt: skip
        lim = self.limits
        timeout = lim.timeout_s if timeout_s is None else min(timeout_s, lim.timeout_s)
        uid, gid = self._account()
        nproc = _tasks_of(os.geteuid() if uid is None else uid) + lim.processes

        def limit_child() -> None:  # runs in the child between fork and exec
            resource.setrlimit(resource.RLIMIT_CPU, (lim.cpu_s, lim.cpu_s + 1))
            resource.setrlimit(resource.RLIMIT_AS, (lim.memory_bytes, lim.memory_bytes))
            resource.setrlimit(resource.RLIMIT_FSIZE, (lim.file_bytes, lim.file_bytes))
            resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

        master, slave = pty.openpty()
        attrs = termios.tcgetattr(slave)
        attrs[1] &= ~termios.ONLCR  # keep "\n" as is
        attrs[3] &= ~(termios.ECHO | termios.ICANON)
        termios.tcsetattr(slave, termios.TCSANOW, attrs)
        start = time.perf_counter()
        try:
            self.proc = await asyncio.create_subprocess_exec(
                *argv, cwd=cwd, env=scrubbed_env(lim, env), stdin=asyncio.subprocess.DEVNULL,
                stdout=slave, stderr=asyncio.subprocess.PIPE, start_new_session=True,
                preexec_fn=limit_child, user=uid, group=gid,
                extra_groups=[] if uid is not None else None,
            )  # fmt: skip
        except BaseException:
            os.close(master)
            raise
        finally:
            os.close(slave)
        proc = self.proc
        budget = [lim.output_bytes]
        truncated = asyncio.Event()

        def emit(stream: str, data: bytes, decoder: codecs.IncrementalDecoder) -> None:
            if budget[0] <= 0:
                return
            if len(data) > budget[0]:
                data = data[: budget[0]]
                truncated.set()
            budget[0] -= len(data)
            text = decoder.decode(data)
            if text:
                on_output(stream, text)
            if budget[0] <= 0:
                truncated.set()

        async def pump_pty() -> None:
            loop = asyncio.get_running_loop()
            decoder = codecs.getincrementaldecoder("utf-8")("replace")
            queue: asyncio.Queue[bytes] = asyncio.Queue()

            def readable() -> None:
                try:
                    data = os.read(master, CHUNK)
                except OSError:  # EIO: every writer closed the pty
                    data = b""
                if not data:
                    loop.remove_reader(master)
                queue.put_nowait(data)

            loop.add_reader(master, readable)
            try:
                while data := await queue.get():
                    emit("stdout", data, decoder)
            finally:
                loop.remove_reader(master)

        async def pump_pipe() -> None:
            assert proc.stderr is not None
            decoder = codecs.getincrementaldecoder("utf-8")("replace")
            while data := await proc.stderr.read(CHUNK):
                emit("stderr", data, decoder)

        pumps = [asyncio.ensure_future(pump_pty()), asyncio.ensure_future(pump_pipe())]
        waiter = asyncio.ensure_future(proc.wait())
        capped = asyncio.ensure_future(truncated.wait())
        timed_out = False
        try:
            done, _ = await asyncio.wait(
                {waiter, capped}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
            timed_out = not done
        finally:
            # Always: the leader may be gone while children it forked still hold the output.
            _kill_group(proc.pid)
            await waiter
            capped.cancel()
            _, stuck = await asyncio.wait(pumps, timeout=2)
            for task in stuck:
                task.cancel()
            os.close(master)
        code = proc.returncode
        return RunResult(
            exit_code=code if code is not None and code >= 0 else None,
            signal=-code if code is not None and code < 0 else None,
            timed_out=timed_out,
            truncated=truncated.is_set(),
            interrupted=self.interrupted,
            seconds=time.perf_counter() - start,
            timeout_s=timeout,
            limits=lim,
        )
