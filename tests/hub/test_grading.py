"""Autograding with real nbgrader and real kernels in the real sandbox (own accounts, no network,
limits): right and wrong answers score as expected, hidden tests count, late submissions are
flagged, and hostile submissions are contained without touching anyone else's grade."""

from __future__ import annotations

import csv
import fcntl
import io
import os
import pwd
import secrets
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

from cosim_hub.courses.grading import CourseGrader, SandboxLimits
from cosim_testing.nbgrader_assignment import RIGHT, WRONG, source_notebook

STARTED = time.time()
pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox needs root"),
    # nbgrader 0.9.6 adds submissions in a way SQLAlchemy 2 warns about (it still works).
    pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning"),
]


@pytest.fixture(scope="module")
def grader(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CourseGrader]:
    root = tmp_path_factory.mktemp("course") / "nbgrader"
    prefix = f"cg{secrets.token_hex(2)}-"
    limits = SandboxLimits(cell_timeout=3, wall_timeout=20, memory_bytes=2 << 30, processes=48)
    grader = CourseGrader(root, "robotics101", limits=limits, account_prefix=prefix)
    source = root / "source" / "hw1"
    source.mkdir(parents=True)
    nbformat.write(source_notebook(), source / "hw1.ipynb")
    release = grader.generate("hw1", due="2026-12-01 12:00:00 UTC")
    released = nbformat.read(release / "hw1.ipynb", as_version=4)
    text = "".join(c.source for c in released.cells)
    assert "return a + b" not in text and "add(-1, 1)" not in text  # solution, hidden tests out
    yield grader
    import subprocess

    for entry in pwd.getpwall():
        if entry.pw_name.startswith(prefix):
            subprocess.run(["userdel", entry.pw_name], check=False, capture_output=True)


def _submit(
    grader: CourseGrader,
    student: str,
    solution: str,
    *,
    tests: str | None = None,
    when: str = "2026-11-30 10:00:00 UTC",
) -> None:
    released = nbformat.read(grader.root / "release" / "hw1" / "hw1.ipynb", as_version=4)
    released.cells[1].source = solution
    if tests is not None:
        released.cells[2].source = tests  # tampering with a test cell
    folder = grader.root.parent / "incoming" / student
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    nbformat.write(released, folder / "hw1.ipynb")
    grader.submit("hw1", student, folder, when)


def test_right_and_wrong_answers_hidden_tests_and_lateness(grader: CourseGrader) -> None:
    _submit(grader, "ada", "def add(a, b):\n    return a + b")
    _submit(
        grader, "bob", "def add(a, b):\n    return abs(a) + abs(b)", when="2026-12-02 09:00:00 UTC"
    )
    ada = grader.autograde("hw1", "ada")
    bob = grader.autograde("hw1", "bob")
    assert (ada["score"], ada["max_score"], ada["late"]) == (4.0, 4.0, False)
    # bob passes the visible test and test_more, fails the hidden one (-1 + 1): 1 of 4.
    assert bob["cells"] == {"test_add": 0.0, "test_more": 1.0}, bob
    assert bob["late"] is True
    # Each student's feedback is their own, and says what they got.
    feedback = (grader.feedback_dir("hw1", "bob") / "hw1.html").read_text()
    assert "1.0 / 4.0" in feedback or "1 / 4" in feedback
    rows = list(csv.DictReader(io.StringIO(grader.gradebook_csv())))
    by_student = {r["student_id"]: r for r in rows}
    assert float(by_student["ada"]["score"]) == 4.0 and float(by_student["bob"]["score"]) == 1.0


def _outputs(grader: CourseGrader, student: str) -> str:
    """Everything the graded notebook's cells printed or raised."""
    nb = nbformat.read(grader.root / "autograded" / student / "hw1" / "hw1.ipynb", as_version=4)
    return "\n".join(
        str(out.get("ename", "")) + " " + str(out.get("evalue", "")) + str(out.get("text", ""))
        for cell in nb.cells if cell.cell_type == "code" for out in cell.get("outputs", [])
    )  # fmt: skip


@pytest.mark.parametrize(
    ("name", "solution", "raised"),
    [
        ("loops", "def add(a, b):\n    while True:\n        pass", "NotRun"),
        # Either the process cap stops the forks (fork() fails) or the time limit the loop.
        ("forkbomb", "import os\ndef add(a, b):\n    while True:\n        os.fork()",
         "NotRun|BlockingIOError"),
        ("memory", "def add(a, b):\n    blob = bytearray(10 * 2**30)\n    return a + b",
         "MemoryError"),
        ("network", "import socket\ndef add(a, b):\n"
         "    socket.create_connection(('1.1.1.1', 53), timeout=2)\n    return a + b", "Error"),
    ],
)  # fmt: skip
def test_hostile_submissions_are_contained(
    grader: CourseGrader, name: str, solution: str, raised: str
) -> None:
    _submit(grader, name, solution)
    result = grader.autograde("hw1", name)
    assert result["score"] == 0.0, result  # every test that calls add fails
    outputs = _outputs(grader, name)
    assert any(what in outputs for what in raised.split("|")), outputs
    assert grader.scores("hw1", "ada")["score"] == 4.0  # nobody else's grade moved
    # This grader's work folders are gone (other runs share /tmp, and a deleted account's uid
    # may come back: only folders of this module's accounts made since it started count).
    ours = {e.pw_uid for e in pwd.getpwall() if e.pw_name.startswith(grader.accounts.prefix)}
    leftovers = [p for p in Path("/tmp").glob("cosim-grade-*")
                 if _owner(p) in ours and p.stat().st_mtime >= STARTED]  # fmt: skip
    assert not leftovers, leftovers


def _owner(path: Path) -> int | None:
    try:
        return path.stat().st_uid
    except FileNotFoundError:
        return None


def test_no_reading_elsewhere_no_gradebook_writes_no_test_edits(grader: CourseGrader) -> None:
    gradebook = grader.root / "gradebook.db"
    other = grader.root / "submitted" / "ada" / "hw1" / "hw1.ipynb"
    snoop = f"def add(a, b):\n    return a + b\nprint(open({str(other)!r}).read()[:20])"
    _submit(grader, "snoop", snoop)
    assert grader.autograde("hw1", "snoop")["score"] == 4.0  # its own answer is right...
    assert "PermissionError" in _outputs(grader, "snoop")  # ...but ada's file stayed closed
    scribble = f"def add(a, b):\n    return a + b\nopen({str(gradebook)!r}, 'ab').write(b'x')"
    _submit(grader, "scribble", scribble)
    grader.autograde("hw1", "scribble")
    assert "PermissionError" in _outputs(grader, "scribble")
    assert grader.scores("hw1", "ada")["score"] == 4.0
    # A wrong solution with its test cells emptied: nbgrader puts the tests back before running.
    _submit(grader, "tamper", "def add(a, b):\n    return 0", tests="pass")
    assert grader.autograde("hw1", "tamper")["cells"]["test_add"] == 0.0


def test_formgrader_opens_the_course_storage(grader: CourseGrader, tmp_path: Path) -> None:
    """nbgrader's own formgrader (its server extension, as an admin would run it on the hub's
    machine) lists the graded submissions and takes a manual override that CoSim's scores use."""
    import json
    import subprocess
    import sys

    import requests

    from cosim_hub.procs import free_port
    from cosim_testing.procs import wait_for

    _submit(grader, "fg", "def add(a, b):\n    return abs(a) + abs(b)")
    assert grader.autograde("hw1", "fg")["score"] == 1.0
    port, token = free_port(), secrets.token_hex(16)
    config = tmp_path / "nbgrader_config.py"
    config.write_text(f"c.CourseDirectory.root = {str(grader.root)!r}\n"
                      f"c.CourseDirectory.course_id = {grader.course_id!r}\n")  # fmt: skip
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path), "JUPYTER_RUNTIME_DIR": str(tmp_path)}
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter_server", "--allow-root", "--no-browser",
         f"--port={port}", f"--IdentityProvider.token={token}",
         f"--ServerApp.root_dir={grader.root.parent}",
         "--ServerApp.jpserver_extensions={'nbgrader.server_extensions.formgrader': True}"],
        cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    base, auth = f"http://127.0.0.1:{port}/formgrader/api", {"Authorization": f"token {token}"}

    def get(path: str) -> requests.Response | None:
        try:
            return requests.get(f"{base}/{path}", headers=auth, timeout=5)
        except requests.ConnectionError:
            return None

    try:
        assert wait_for(lambda: get("assignments") is not None, 60, interval=0.2), server
        assignments = {a["name"]: a for a in get("assignments").json()}  # type: ignore[union-attr]
        assert "hw1" in assignments
        subs = {s["student"]: s for s in get("submissions/hw1").json()}  # type: ignore[union-attr]
        assert subs["fg"]["autograded"] and subs["fg"]["score"] == 1.0, subs["fg"]
        # A manual override through formgrader (the hidden test was too strict, say).
        notebooks = get("submitted_notebooks/hw1/hw1").json()  # type: ignore[union-attr]
        notebook = next(n for n in notebooks if n["student"] == "fg")
        grades = requests.get(f"{base}/grades", params={"submission_id": notebook["id"]},
                              headers=auth, timeout=5).json()  # fmt: skip
        test_add = next(g for g in grades if g["name"] == "test_add")
        resp = requests.put(f"{base}/grade/{test_add['id']}", headers=auth, timeout=5,
                            data=json.dumps({"manual_score": 3}))  # fmt: skip
        assert resp.status_code == 200, resp.text
        assert grader.scores("hw1", "fg")["score"] == 4.0
        assert {r["student_id"]: r["score"] for r in grader.gradebook_rows()}["fg"] == 4.0
    finally:
        server.terminate()
        server.wait(timeout=30)


# -- grading in parallel ---------------------------------------------------------------------

OVERLAP = "import time\ntime.sleep(0.5)  # the runs overlap anyway (kernel start): made sure\n"
CONCURRENT = {  # student -> (solution, expected cells)
    "par-right": (RIGHT, {"test_add": 3.0, "test_more": 1.0}),
    "par-wrong": (WRONG, {"test_add": 0.0, "test_more": 1.0}),
    # Right for a < 2 only (3 of 4); it also tries to write into the other runs' folders.
    "par-snoop": ("import glob, os\n"
                  "for p in glob.glob('/tmp/cosim-grade-*'):\n"
                  "    if p != os.getcwd():\n"
                  "        try:\n"
                  "            open(p + '/submission.ipynb', 'a').write('x'); print('WROTE', p)\n"
                  "        except OSError as e:\n"
                  "            print('DENIED', type(e).__name__)\n"
                  "def add(a, b):\n    return a + b if a < 2 else 0",
                  {"test_add": 3.0, "test_more": 0.0}),
    # Kills every process it may signal (then fails to define add).
    "par-killall": ("import os, signal\nos.kill(-1, signal.SIGKILL)\n" + RIGHT,
                    {"test_add": 0.0, "test_more": 0.0}),
}  # fmt: skip


def test_concurrent_submissions_get_exactly_their_own_scores(grader: CourseGrader) -> None:
    """Four submissions graded from four threads over the pool: the notebooks run side by side,
    every score, feedback and graded notebook is the student's own, and the hostile ones
    (snooping on the others' folders, killing all they can) disturb nobody else."""
    from concurrent.futures import ThreadPoolExecutor

    for student, (solution, _) in CONCURRENT.items():
        _submit(grader, student, OVERLAP + solution)
    grader.accounts.peak_busy = 0
    with ThreadPoolExecutor(len(CONCURRENT)) as pool:
        futures = {s: pool.submit(grader.autograde, "hw1", s) for s in CONCURRENT}
        results = {s: future.result() for s, future in futures.items()}
    assert grader.accounts.peak_busy >= 2  # they did run at once
    for student, (solution, cells) in CONCURRENT.items():
        assert results[student]["student"] == student
        assert results[student]["cells"] == cells, (student, results[student])
        assert grader.scores("hw1", student)["cells"] == cells
        graded = nbformat.read(
            grader.root / "autograded" / student / "hw1" / "hw1.ipynb", as_version=4
        )
        assert solution in graded.cells[1].source  # its own answer, nobody else's
        score = sum(cells.values())
        feedback = (grader.feedback_dir("hw1", student) / "hw1.html").read_text()
        assert f"{score} / 4.0" in feedback or f"{score:g} / 4" in feedback, student
    assert "WROTE" not in _outputs(grader, "par-snoop")
    # Its PID namespace holds its kernel and the runner (which no signal from inside reaches).
    assert "ProcessLookupError" in _outputs(grader, "par-killall")
    assert all(result["messages"] == {} for result in results.values())


def test_an_interrupted_grading_leaves_nothing_behind(grader: CourseGrader) -> None:
    """The process grading is killed mid-run (the exchange killed): its sandbox dies with it,
    and the next start removes the run's folder, but no live run's and no other pool's."""
    import signal
    import subprocess
    import sys

    from cosim_hub.courses.sandbox import WORK_PREFIX, clean_leftovers
    from cosim_hub.user_limits import processes_of
    from cosim_testing.procs import wait_for

    prefix = grader.accounts.prefix
    _submit(grader, "cut", "def add(a, b):\n    while True:\n        pass")
    before = set(Path("/tmp").glob(f"{WORK_PREFIX}{prefix}*"))
    child = subprocess.Popen(
        [sys.executable, "-c",
         "import sys; from cosim_hub.courses.grading import CourseGrader\n"
         f"CourseGrader(sys.argv[1], 'robotics101', account_prefix={prefix!r}, concurrency=1)"
         ".autograde('hw1', 'cut')", str(grader.root)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip

    def sandbox_processes() -> dict[int, int]:
        try:
            return processes_of(pwd.getpwnam(f"{prefix}0").pw_uid)
        except KeyError:  # the child makes the account on first use
            return {}

    try:
        assert wait_for(sandbox_processes, 60, interval=0.1)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert wait_for(lambda: not sandbox_processes(), 10, interval=0.1)
    left = set(Path("/tmp").glob(f"{WORK_PREFIX}{prefix}*")) - before
    assert len(left) == 1, left
    # A live run's folder (its lock held) and another pool's stay.
    live = Path(tempfile.mkdtemp(prefix=f"{WORK_PREFIX}{prefix}1-"))
    other = Path(tempfile.mkdtemp(prefix=f"{WORK_PREFIX}{prefix}x{prefix}0-"))
    held = os.open(live, os.O_RDONLY)
    try:
        fcntl.flock(held, fcntl.LOCK_EX)
        CourseGrader(grader.root, "robotics101", account_prefix=prefix)  # the next start
        assert not any(p.exists() for p in left)
        assert live.is_dir() and other.is_dir()
    finally:
        os.close(held)
        shutil.rmtree(other)
    assert clean_leftovers(prefix) == [live]  # unlocked: no longer a live run's


def test_pool_size_comes_from_config(tmp_path: Path) -> None:
    from traitlets import TraitError
    from traitlets.config import Config

    from cosim_hub import configure
    from cosim_hub.courses.gradeflow import default_pool_size, grading_pool_size

    def service_env(**courses: object) -> dict[str, str]:
        c = Config()
        c.CoSimHub.state_dir = str(tmp_path)
        for key, value in courses.items():
            c.CoSimCourses[key] = value
        configure(c)
        service = next(s for s in c.JupyterHub.services if s["name"] == "cosim-courses")
        return dict(service["environment"])

    assert service_env(grading_accounts=3)["COSIM_GRADING_ACCOUNTS"] == "3"
    assert grading_pool_size(service_env()["COSIM_GRADING_ACCOUNTS"]) == default_pool_size()
    assert default_pool_size() == max(2, len(os.sched_getaffinity(0)))
    with pytest.raises(TraitError, match="grading_accounts"):
        service_env(grading_accounts=-1)
