"""The C++ build core with the real compilers: object cache, parallel compiles, compile DB."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import subprocess
from pathlib import Path

import pytest
from cpp_projects import ARM_HPP, write_project

from cosim_cpp.build import BuildError, BuildRequest, BuildResult, build, find_sources
from cosim_cpp.cache import parse_depfile
from cosim_cpp.toolchain import ToolMissing


def run_build(root: Path, **kw: object) -> BuildResult:
    kw.setdefault("precompiled_header", False)  # built once per test otherwise: slow
    request = BuildRequest(root=root, sources=find_sources(root / "src"), **kw)  # type: ignore[arg-type]
    return asyncio.run(build(request))


def test_builds_and_runs(tmp_path: Path) -> None:
    write_project(tmp_path)
    result = run_build(tmp_path, precompiled_header=True)
    assert result.ok, result.output
    assert result.binary is not None
    assert subprocess.run([result.binary], capture_output=True, text=True).stdout == "42\n"
    assert sorted(result.compiled) == ["src/arm.cpp", "src/main.cpp"]


def test_cache_hits_and_header_change(tmp_path: Path) -> None:
    write_project(tmp_path, files=3)
    first = run_build(tmp_path)
    assert first.ok and len(first.compiled) == 4 and first.linked

    again = run_build(tmp_path)
    assert again.compiled == [] and len(again.cached) == 4 and not again.linked

    # Rewriting a file with the same bytes (new mtime) is still a hit: content decides.
    (tmp_path / "src" / "arm.cpp").write_text((tmp_path / "src" / "arm.cpp").read_text())
    assert run_build(tmp_path).compiled == []

    # A header change rebuilds every file that includes it, and nothing else.
    (tmp_path / "src" / "other.cpp").write_text("int other() { return 7; }\n")
    run_build(tmp_path)
    (tmp_path / "src" / "arm.hpp").write_text(ARM_HPP + "constexpr int kJoints = 6;\n")
    after = run_build(tmp_path)
    assert after.ok and after.linked
    assert "src/other.cpp" in after.cached
    assert sorted(after.compiled) == sorted(
        ["src/arm.cpp", "src/main.cpp", "src/part0.cpp", "src/part1.cpp"]
    )

    # One source changed: only it compiles.
    (tmp_path / "src" / "part0.cpp").write_text("int part0() { return 3; }\n")
    one = run_build(tmp_path)
    assert one.compiled == ["src/part0.cpp"] and one.linked


def test_flags_are_part_of_the_key(tmp_path: Path) -> None:
    write_project(tmp_path)
    run_build(tmp_path)
    optimised = run_build(tmp_path, flags=["-std=c++20", "-O2"])
    assert len(optimised.compiled) == 2


def test_parallel_compiles_overlap(tmp_path: Path) -> None:
    write_project(tmp_path, files=3)
    parallel = run_build(tmp_path, jobs=4, precompiled_header=False)
    spans = sorted(parallel.timings.values())
    assert len(spans) == 4
    # With 4 jobs every compile starts before the first one ends.
    assert all(start < spans[0][1] for start, _ in spans)

    for path in (tmp_path / ".cosim").rglob("*.json"):
        path.unlink()  # forget the cache
    serial = run_build(tmp_path, jobs=1, precompiled_header=False)
    ordered = sorted(serial.timings.values())
    assert all(a_end <= b_start for (_, a_end), (b_start, _) in itertools.pairwise(ordered))


def test_compile_commands_reproduce_the_build(tmp_path: Path) -> None:
    write_project(tmp_path)
    run_build(tmp_path, mujoco=True)
    entries = json.loads((tmp_path / "compile_commands.json").read_text())
    assert sorted(Path(e["file"]).name for e in entries) == ["arm.cpp", "main.cpp"]
    for entry in entries:
        assert entry["directory"] == str(tmp_path.resolve())
        args = entry["arguments"]
        assert "-std=c++20" in args and f"-I{tmp_path.resolve() / 'src'}" in args
        assert any(a.endswith("mujoco/include") for a in args)
        assert "-include" not in args  # clangd cannot read GCC's precompiled header
        # The recorded command compiles the file as it stands (what clangd relies on).
        out = tmp_path / "check.o"
        swapped = [*args[: args.index("-o") + 1], str(out)]
        subprocess.run(swapped, cwd=entry["directory"], check=True)
        assert out.stat().st_size > 0


def test_compile_error_is_a_result_with_diagnostics(tmp_path: Path) -> None:
    write_project(tmp_path)
    (tmp_path / "src" / "arm.cpp").write_text("int arm_steps(int n) {\n  return n +;\n}\n")
    result = run_build(tmp_path)
    assert not result.ok and result.binary is None
    errors = [d for d in result.diagnostics if d.severity == "error"]
    assert errors and errors[0].file == "src/arm.cpp" and errors[0].line == 2
    assert "expected" in errors[0].message


def test_link_error_is_reported(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "main.cpp").write_text("int missing();\nint main() { return missing(); }\n")
    result = run_build(tmp_path)
    assert not result.ok
    assert any("undefined reference" in d.message for d in result.diagnostics)


@pytest.mark.parametrize("compiler", ["g++", "clang++"])
def test_both_compilers(tmp_path: Path, compiler: str) -> None:
    write_project(tmp_path)
    result = run_build(tmp_path, compiler=compiler, precompiled_header=True)
    assert result.ok, result.output
    assert subprocess.run([result.binary], capture_output=True, text=True).stdout == "42\n"  # type: ignore[list-item]


def test_bad_requests(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_project(tmp_path)
    with pytest.raises(BuildError, match="no C\\+\\+ sources"):
        asyncio.run(build(BuildRequest(root=tmp_path, sources=[])))
    with pytest.raises(BuildError, match="unknown compiler"):
        run_build(tmp_path, compiler="cl.exe")
    with pytest.raises(BuildError, match="not allowed"):
        run_build(tmp_path, flags=["-o", "/etc/passwd"])
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(ToolMissing, match="install the Debian package 'clang'"):
        run_build(tmp_path, compiler="clang++")


def test_precompiled_headers_are_pruned(tmp_path: Path) -> None:
    write_project(tmp_path)
    for level in ("-O0", "-O1", "-O2", "-O3"):
        assert run_build(tmp_path, flags=["-std=c++17", level], precompiled_header=True).ok
    pch = list((tmp_path / ".cosim" / "build" / "pch").iterdir())
    assert len(pch) == 3 and all(list(p.glob("*.gch")) for p in pch)


def test_parse_depfile() -> None:
    text = "obj.o: src/a.cpp src/a\\ b.hpp \\\n  /usr/x.h\n"
    assert parse_depfile(text) == ["src/a.cpp", "src/a b.hpp", "/usr/x.h"]


def test_find_sources_skips_hidden_folders(tmp_path: Path) -> None:
    write_project(tmp_path)
    (tmp_path / ".cosim").mkdir()
    (tmp_path / ".cosim" / "x.cpp").write_text("")
    assert {p.name for p in find_sources(tmp_path)} == {"arm.cpp", "main.cpp"}
    assert os.path.isdir(tmp_path / "src")
