"""The grading sandbox: one student notebook executed as an unprivileged account of its own.

Each run gets

- an account from a pool (never the instructor or the hub), one account per concurrent run,
- a PID namespace of its own: when the run ends (or is killed) the kernel kills everything it
  started, double forks and ``setsid`` included, so no scan for leftovers is needed,
- a network namespace with no interface up (no network, not even loopback),
- limits on processes, memory, CPU time, file size and wall time,
- a fresh folder holding only that submission, removed afterwards (other submissions and the
  gradebook are root's, mode 700).

Nothing here runs Python code between ``fork`` and ``exec`` (no ``preexec_fn``): runs start from
several threads at once, and ``preexec_fn`` may deadlock in a threaded process. The limits are
set by util-linux's ``prlimit``, the account by ``setpriv``, the session by ``start_new_session``.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import nbformat

from ..procs import kill_until_gone
from ..user_limits import processes_of

WORK_PREFIX = "cosim-grade-"  # + account name + "-" + random: whose folder it is shows in its name


@dataclass(frozen=True)
class SandboxLimits:
    cell_timeout: int = 60  # seconds per cell
    wall_timeout: int = 300  # seconds for the whole notebook, kernel start included
    memory_bytes: int = 4 << 30  # address space of each process
    processes: int = 64  # per sandbox account (RLIMIT_NPROC counts the account's processes)
    file_bytes: int = 64 << 20  # largest file it may write
    cpu_seconds: int = 600  # CPU time of each process


class GraderAccounts:
    """A pool of unprivileged accounts ``<prefix>0``, ``<prefix>1``, ...: one per concurrent
    grading run, so at most ``size`` runs at once. Accounts are made on first need."""

    def __init__(self, prefix: str, size: int) -> None:
        if size < 1:
            raise ValueError("a grading pool needs at least one account")
        self.prefix, self.size = prefix, size
        self._free: list[pwd.struct_passwd] = []
        self._made = 0
        self.busy = 0
        self.peak_busy = 0  # most runs seen at once (tests and benchmarks read it)
        self._cond = threading.Condition()

    def names(self) -> list[str]:
        return [f"{self.prefix}{i}" for i in range(self.size)]

    def _make(self, name: str) -> pwd.struct_passwd:
        try:
            return pwd.getpwnam(name)
        except KeyError:
            subprocess.run(
                ["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
                 "--shell", "/usr/sbin/nologin", "--user-group",
                 "--comment", "CoSim grading sandbox", name],
                check=True, capture_output=True,
            )  # fmt: skip
            return pwd.getpwnam(name)

    def stop(self) -> None:
        """Kill whatever every account of the pool still runs (the service is exiting)."""
        for name in self.names():
            with contextlib.suppress(KeyError):
                kill_account(pwd.getpwnam(name).pw_uid)

    @contextlib.contextmanager
    def lease(self) -> Iterator[pwd.struct_passwd]:
        with self._cond:
            while not self._free and self._made >= self.size:
                self._cond.wait()
            if self._free:
                account = self._free.pop()
            else:
                self._made += 1
                try:
                    account = self._make(f"{self.prefix}{self._made - 1}")
                except BaseException:
                    self._made -= 1
                    raise
            self.busy += 1
            self.peak_busy = max(self.peak_busy, self.busy)
        try:
            yield account
        finally:
            with self._cond:
                self.busy -= 1
                self._free.append(account)
                self._cond.notify()


def kill_account(uid: int) -> set[int]:
    """SIGKILL every process of ``uid`` (scans every process: for rare clean-ups only)."""
    return kill_until_gone(lambda: set(processes_of(uid)), timeout=5.0)


def _sandbox_command(
    account: pwd.struct_passwd, limits: SandboxLimits, cell_timeout: int
) -> list[str]:
    return [
        # If the grader dies (the exchange killed mid-grading), so does the run.
        "setpriv", "--pdeathsig=KILL", "--",
        # --pid: the run is PID 1 of its own namespace; when it exits, everything in it dies.
        "unshare", "--net", "--pid", "--fork", "--kill-child", "--",
        "prlimit", f"--nproc={limits.processes}", f"--as={limits.memory_bytes}",
        f"--fsize={limits.file_bytes}", f"--cpu={limits.cpu_seconds}", "--core=0", "--",
        # (the account switch clears unshare's --kill-child: set it again after it)
        "setpriv", f"--reuid={account.pw_uid}", f"--regid={account.pw_gid}",
        "--clear-groups", "--no-new-privs", "--pdeathsig=KILL", "--",
        sys.executable, "-m", "cosim_hub.courses.sandbox_run",
        "submission.ipynb", "executed.ipynb", str(cell_timeout),
    ]  # fmt: skip


def _not_run(nb: nbformat.NotebookNode, message: str) -> nbformat.NotebookNode:
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [nbformat.v4.new_output(
                "error", ename="NotRun", evalue=message, traceback=[f"NotRun: {message}"]
            )]  # fmt: skip
    return nb


def _outputs_onto(nb: nbformat.NotebookNode, executed: nbformat.NotebookNode) -> str:
    """Copy the executed cells' outputs onto ``nb``, the notebook nbgrader handed us; its
    sources and metadata stay ours (the run's folder was the account's to rewrite). Returns a
    message when the two do not line up."""
    if len(executed.cells) != len(nb.cells) or any(
        a.cell_type != b.cell_type or a.source != b.source
        for a, b in zip(nb.cells, executed.cells, strict=True)
    ):
        return "the grading run returned a notebook that is not the one it was given"
    for cell, ran in zip(nb.cells, executed.cells, strict=True):
        if cell.cell_type == "code":
            cell.outputs = ran.get("outputs", [])
            cell.execution_count = ran.get("execution_count")
    if isinstance(executed.metadata.get("language_info"), dict):  # the feedback's highlighting
        nb.metadata.language_info = executed.metadata.language_info
    return ""


def run_in_sandbox(
    nb: nbformat.NotebookNode,
    files_from: Path,
    account: pwd.struct_passwd,
    limits: SandboxLimits,
) -> tuple[nbformat.NotebookNode, str]:
    """Execute ``nb`` (with the other files of ``files_from`` beside it) as ``account``; returns
    the executed notebook and a message ("" when it ran to the end)."""
    work = Path(tempfile.mkdtemp(prefix=f"{WORK_PREFIX}{account.pw_name}-"))
    # Held while the run lives: a clean-up at the next start skips folders still locked.
    held = os.open(work, os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(held, fcntl.LOCK_EX)
    try:
        if files_from.is_dir():
            skip = shutil.ignore_patterns("*.ipynb", ".ipynb_checkpoints")
            shutil.copytree(files_from, work, dirs_exist_ok=True, symlinks=False, ignore=skip)
        nbformat.write(nb, work / "submission.ipynb")
        for path in [work, *work.rglob("*")]:
            os.chown(path, account.pw_uid, account.pw_gid, follow_symlinks=False)
        os.chmod(work, 0o700)
        env = {
            "HOME": str(work), "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
            "JUPYTER_RUNTIME_DIR": str(work / ".runtime"), "IPYTHONDIR": str(work / ".ipython"),
            "MPLCONFIGDIR": str(work / ".mpl"), "MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl"),
            "PYTHONDONTWRITEBYTECODE": "1", "NBGRADER_EXECUTION": "autograde",
        }  # fmt: skip
        proc = subprocess.Popen(
            _sandbox_command(account, limits, limits.cell_timeout), cwd=work, env=env,
            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            close_fds=True,
        )  # fmt: skip
        message = ""
        try:
            _, err = proc.communicate(timeout=limits.wall_timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # unshare dies, so does its namespace
            proc.communicate()
            message = f"the notebook ran past its {limits.wall_timeout} s limit"
        else:
            if proc.returncode != 0:
                tail = err.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
                message = f"the grading run failed ({tail[0][:200]})"
        # unshare has exited: its namespace, and every process of the run, is gone.
        executed = work / "executed.ipynb"
        if not message and executed.is_file() and not executed.is_symlink():
            try:
                message = _outputs_onto(nb, nbformat.read(executed, as_version=4))
            except Exception as err:  # a run may leave anything in its folder
                message = f"the grading run wrote an unreadable notebook ({type(err).__name__})"
            if not message:
                return nb, ""
        message = message or "the grading run wrote no notebook"
        return _not_run(nb, message), message
    finally:
        shutil.rmtree(work, ignore_errors=True)
        os.close(held)


def clean_leftovers(prefix: str, tmp: Path | None = None) -> list[Path]:
    """Remove work folders of runs that were interrupted (the service killed mid-grading): only
    this pool's (``<WORK_PREFIX><prefix>...``) and only those no live run holds. Returns them."""
    removed = []
    ours = re.compile(re.escape(f"{WORK_PREFIX}{prefix}") + r"\d+-")
    for path in Path(tmp or tempfile.gettempdir()).glob(f"{WORK_PREFIX}{prefix}*"):
        if not ours.match(path.name) or path.is_symlink() or not path.is_dir():
            continue
        try:
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue  # a live run's
        try:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
        finally:
            os.close(fd)
    return removed
