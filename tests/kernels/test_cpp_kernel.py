"""The ``cosim-cpp`` kernel, started by Jupyter like Lab starts it: the protocol suite, the
notebook workflow (%%file, %%build, %%run, %%gdb, %%lldb, MuJoCo) and every kind of bad input."""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jupyter_kernel_test
import pytest
from cpp_kernel_client import CellRun, cpp_kernel, execute, open_workspace
from cpp_projects import ARM_CPP, ARM_HPP, MUJOCO_MAIN, PENDULUM_XML
from proc_sockets import descendants, is_below, process_name, tcp_sockets

KernelInFolder = tuple[Any, Any, Path]  # (KernelManager, client, project folder)


class TestCppKernelProtocol(jupyter_kernel_test.KernelTests):
    """jupyter_kernel_test's message-spec suite, run in a throwaway project folder."""

    kernel_name = "cosim-cpp"
    language_name = "c++"
    file_extension = ".cpp"
    code_hello_world = '#include <cstdio>\nint main() { std::printf("hello, world\\n"); }\n'
    code_stderr = '#include <cstdio>\nint main() { std::fprintf(stderr, "oops\\n"); }\n'
    code_generate_error = "int main() { return undeclared_name; }\n"
    completion_samples = [{"text": "%%gd", "matches": {"%%gdb"}}]
    complete_code_samples = ["int main() { return 0; }", "%%run --timeout 2", "// {"]
    incomplete_code_samples = ["int main() {", "struct Arm {\n  int joints;"]
    invalid_code_samples = ["int main() { } }"]
    code_inspect_sample = "#include <cstdio>\nint main() { std::printf"

    @classmethod
    def setUpClass(cls) -> None:
        cls.workspace = open_workspace()
        cls.saved_cwd = os.getcwd()
        os.chdir(cls.workspace)  # the kernel's project is the folder it starts in
        try:
            super().setUpClass()
        finally:
            os.chdir(cls.saved_cwd)
        # The suite's replies are bounded at 15 s; a new project's first cell also builds its
        # precompiled header, which takes longer than that on a busy machine. Build it here.
        msg_id = cls.kc.execute(cls.code_hello_world)
        while cls.kc.get_shell_msg(timeout=300)["parent_header"].get("msg_id") != msg_id:
            pass
        while True:
            msg = cls.kc.get_iopub_msg(timeout=30)
            mine = msg["parent_header"].get("msg_id") == msg_id
            if mine and msg.get("content", {}).get("execution_state") == "idle":
                break

    @classmethod
    def tearDownClass(cls) -> None:
        super().tearDownClass()
        shutil.rmtree(cls.workspace, ignore_errors=True)


@pytest.fixture(scope="module")
def kernel() -> Iterator[KernelInFolder]:
    workspace = open_workspace()
    with cpp_kernel(workspace) as (km, kc):
        assert execute(kc, "%timeout 3").status == "ok"
        yield km, kc, workspace
    shutil.rmtree(workspace, ignore_errors=True)


def run(kernel: KernelInFolder, code: str, timeout: float = 60) -> CellRun:
    return execute(kernel[1], code, timeout)


def test_notebook_project_workflow(kernel: KernelInFolder) -> None:
    workspace = kernel[2]
    assert run(kernel, f"%%file src/arm.hpp\n{ARM_HPP}").status == "ok"
    assert run(kernel, f"%%file src/arm.cpp\n{ARM_CPP}").status == "ok"
    assert (workspace / "src" / "arm.cpp").read_text() == ARM_CPP

    cell = '#include <iostream>\n#include "arm.hpp"\nint main(int argc, char**) {\n'
    cell += '  std::cout << "steps " << arm_steps(argc) << std::endl;\n}\n'
    built = run(kernel, f"%flags -std=c++20 -g -O0 -Wall\n%%build sim\n{cell}")
    assert built.status == "ok", built.error
    assert "built sim" in built.text() and (workspace / ".cosim/build/bin/sim").is_file()
    assert (workspace / "compile_commands.json").is_file()

    ran = run(kernel, "%%run --timeout 5 a b")
    assert ran.status == "ok" and ran.text("stdout") == "steps 6\n"

    gdb = run(kernel, "%%gdb\nbreak arm.cpp:4\nrun\nbt\ninfo locals\n")
    assert gdb.status == "ok", gdb.error
    out = gdb.text()
    assert "Breakpoint 1, arm_steps (n=1)" in out and "doubled = 2" in out

    lldb = run(kernel, "%%lldb\nbreakpoint set --file arm.cpp --line 4\nrun\nframe variable\n")
    assert lldb.status == "ok", lldb.error
    assert "stop reason = breakpoint" in lldb.text() and "doubled = 2" in lldb.text()

    clang = run(kernel, f"%compiler clang++\n{cell}")
    assert clang.status == "ok" and clang.text("stdout") == "steps 2\n", clang.error
    assert run(kernel, "%compiler g++").status == "ok"


SLEEPER = "#include <unistd.h>\nint main() { usleep(800000); return 0; }\n"


@pytest.mark.parametrize("debugger", ["gdb", "lldb"])
def test_debuggers_open_no_port(kernel: KernelInFolder, debugger: str) -> None:
    """While gdb or lldb runs a program for the kernel, nothing below the kernel holds a TCP
    socket (lldb reaches its lldb-server over a socket pair): no other user can attach."""
    built = run(kernel, f"%flags -g -O0\n%%build sleeper\n{SLEEPER}")
    assert built.status == "ok", built.error
    result: list[CellRun] = []
    cell = threading.Thread(target=lambda: result.append(run(kernel, f"%%{debugger}\nrun\n")))
    kernel_pid = kernel[0].provisioner.process.pid
    seen: set[str] = set()
    sockets: dict[str, list[str]] = {}
    assert run(kernel, "%timeout 30").status == "ok"  # a debugger starts slowly on a busy machine
    try:
        cell.start()
        while cell.is_alive():
            for pid in descendants(kernel_pid):
                name = process_name(pid)
                seen.add(name)
                if (held := tcp_sockets(pid)) and is_below(pid, kernel_pid):
                    sockets[name] = held
            time.sleep(0.05)
        cell.join()
    finally:
        assert run(kernel, "%timeout 3").status == "ok"
    assert result and result[0].status == "ok", result and result[0].error
    assert any(name.startswith(debugger) for name in seen), seen
    assert sockets == {}


def test_mujoco_c_api(kernel: KernelInFolder) -> None:
    assert run(kernel, f"%%file pendulum.xml\n{PENDULUM_XML}").status == "ok"
    result = run(kernel, f"%mujoco\n{MUJOCO_MAIN}")
    assert result.status == "ok", result.error
    out = result.text("stdout")
    assert out.startswith("nq=1 qpos=") and "time=0.400" in out
    assert abs(float(out.split("qpos=")[1].split()[0])) < 0.3  # the pole swung back
    assert run(kernel, "%mujoco off").status == "ok"


def test_output_streams_as_printed(kernel: KernelInFolder) -> None:
    code = (
        "#include <cstdio>\n#include <unistd.h>\n"
        'int main() { std::printf("first\\n"); usleep(800000); std::printf("second\\n"); }\n'
    )
    result = run(kernel, code)
    assert result.status == "ok" and result.text("stdout") == "first\nsecond\n"
    streams = [(t, m["content"]["text"]) for t, m in result.outputs if m["msg_type"] == "stream"]
    first_at = next(t for t, text in streams if "first" in text)
    second_at = next(t for t, text in streams if "second" in text)
    assert second_at - first_at > 0.5  # not buffered until the program ended


def test_compile_error_keeps_kernel_alive(kernel: KernelInFolder) -> None:
    result = run(kernel, "int main() {\n  return missing_value;\n}\n")
    assert result.status == "error"
    assert result.reply["content"]["ename"] == "CompileError"
    assert "cell:2:10: error:" in result.error and "missing_value" in result.error
    first = result.reply["content"]["diagnostics"][0]
    assert (first["file"], first["line"], first["severity"]) == ("cell", 2, "error")
    assert "missing_value" in first["message"]
    assert run(kernel, "int main() { return 0; }").status == "ok"


@pytest.mark.parametrize(
    "code, expected",
    [
        ("int main() { while (true) {} }", "ran past the 3 s time limit"),
        ("#include <unistd.h>\nint main() { while (true) fork(); }", "ran past the 3 s"),
        (
            "#include <cstdio>\nint main() { char* p = new char[10000000000ull];"
            ' p[1] = 1; std::printf("%d", p[1]); }',
            "memory limit",
        ),
        ('#include <cstdio>\nint main() { while (true) std::puts("spam spam"); }', "truncated"),
        ("int main() { return 3; }", "exit code 3"),
    ],
    ids=["infinite-loop", "fork-bomb", "10GB-allocation", "endless-output", "exit-code"],
)
def test_bad_programs_are_contained(kernel: KernelInFolder, code: str, expected: str) -> None:
    start = time.perf_counter()
    result = run(kernel, code)
    assert result.status == "error"
    assert expected in result.error
    assert time.perf_counter() - start < 20
    assert len(result.text()) <= 1024**2 + 200
    alive = run(kernel, '#include <cstdio>\nint main() { std::printf("alive\\n"); }')
    assert alive.text("stdout") == "alive\n"


def test_environment_is_scrubbed(kernel: KernelInFolder) -> None:
    code = (
        "#include <cstdio>\n#include <cstdlib>\nextern char** environ;\n"
        'int main() { for (char** e = environ; *e; e++) std::printf("%s\\n", *e); }\n'
    )
    names = {line.split("=")[0] for line in run(kernel, code).text("stdout").splitlines()}
    assert "PATH" in names
    assert not {n for n in names if "TOKEN" in n or n.startswith(("JPY_", "JUPYTERHUB_"))}


@pytest.mark.parametrize(
    "code, expected",
    [
        ("%%file ../../etc/x\nhi", "leaves the project folder"),
        ("%%file /etc/x\nhi", "absolute"),
        ("%%file .cosim/build/x\nhi", ".cosim/"),
        ("%bogus", "unknown magic %bogus"),
        ("%%bogus\n", "unknown cell magic %%bogus"),
        ("%compiler cl.exe", "%compiler takes one of"),
        ("%flags -o /etc/passwd", "not allowed"),
        ("%%run --timeout soon", "--timeout needs seconds"),
        ("int main() {}\n%%run", "must come first"),
    ],
)
def test_bad_cells_get_clear_errors(kernel: KernelInFolder, code: str, expected: str) -> None:
    result = run(kernel, code)
    assert result.status == "error" and expected in result.error
    assert not (Path("/etc/x")).exists()


def test_missing_compiler_names_the_package() -> None:
    workspace = open_workspace()
    bin_dir = workspace / "bin"
    bin_dir.mkdir()
    for tool in ("python3",):  # a PATH with no compilers or debuggers
        (bin_dir / tool).symlink_to(shutil.which(tool) or "/usr/bin/python3")
    saved = os.environ["PATH"]
    os.environ["PATH"] = str(bin_dir)
    try:
        with cpp_kernel(workspace) as (_, kc):
            result = execute(kc, "int main() {}")
            assert result.status == "error"
            assert "g++ is not installed" in result.error and "apt-get install g++" in result.error
            assert "gdb" in execute(kc, "%%gdb\nrun").error
    finally:
        os.environ["PATH"] = saved
        shutil.rmtree(workspace, ignore_errors=True)


def test_interrupt_kills_the_program(kernel: KernelInFolder) -> None:
    km = kernel[0]
    code = (
        "#include <cstdio>\n#include <unistd.h>\n"
        'int main() { for (;;) { std::printf("tick\\n"); std::fflush(stdout); usleep(100000); } }'
    )
    assert run(kernel, "%%build ticker\n" + code).status == "ok"
    timer = threading.Timer(1.5, km.interrupt_kernel)
    timer.start()
    try:
        result = run(kernel, "%%run --timeout 30")
    finally:
        timer.cancel()
    assert result.status == "error" and result.reply["content"]["ename"] == "KeyboardInterrupt"
    assert result.seconds < 10 and "tick" in result.text()
    assert run(kernel, "int main() { return 0; }").status == "ok"


def test_completion_comes_from_clangd(kernel: KernelInFolder) -> None:
    kc = kernel[1]
    code = "%flags -std=c++20\n#include <vector>\nint main() { std::vector<int> v; v.pu"
    reply = kc.complete(code, reply=True, timeout=60)["content"]
    assert "push_back" in reply["matches"]  # member completion: only a real parser knows
    assert code[reply["cursor_start"] : len(code)] == "pu"

    assert (
        run(kernel, f"%%file src/joint.hpp\n{ARM_HPP.replace('arm_steps', 'joint_limit')}").status
        == "ok"
    )
    code = '#include "joint.hpp"\nint main() { return joint_li'
    assert "joint_limit" in kc.complete(code, reply=True, timeout=60)["content"]["matches"]


def test_interrupt_stops_a_build(kernel: KernelInFolder) -> None:
    km = kernel[0]
    # A compile that takes many seconds: the compiler evaluates a long constexpr loop.
    slow = (
        "%flags -std=c++20 -fconstexpr-loop-limit=2000000000 -fconstexpr-ops-limit=4000000000\n"
        "constexpr long sum() { long s = 0; for (long i = 0; i < 1500000000; i++) s += i % 7;"
        " return s; }\nstatic_assert(sum() > 0);\nint main() {}\n"
    )
    timer = threading.Timer(2.0, km.interrupt_kernel)
    timer.start()
    try:
        result = run(kernel, slow)
    finally:
        timer.cancel()
    assert result.status == "error" and "interrupted while building" in result.error
    assert result.seconds < 10
    assert not _compilers_in(kernel[2]), "the interrupted compiler is still running"
    assert run(kernel, "%flags -std=c++20 -g -Wall").status == "ok"
    assert run(kernel, "int main() { return 0; }").status == "ok"


def _compilers_in(folder: Path) -> list[str]:
    """Compiler processes working on files of ``folder``."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if proc.name.isdigit() and "cc1plus" in cmdline and str(folder) in cmdline:
            found.append(cmdline)
    return found
