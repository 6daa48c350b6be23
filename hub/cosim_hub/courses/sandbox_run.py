"""``python -m cosim_hub.courses.sandbox_run IN OUT CELL_TIMEOUT``: run one notebook, inside the
grading sandbox (its own account, no network, limits set by the parent), and write it executed.

The kernel talks over IPC sockets in the working folder: the sandbox has no network at all, not
even loopback. Errors stay in the cells (that is how nbgrader scores a failing test). When a cell
runs past its time or the kernel dies, that cell and every later one get an error output saying
why, so a test that never ran can never count as passed. The process then exits at once without
shutting the kernel down politely (a spinning kernel would not answer): this process is PID 1
of the run's own PID namespace, so when it exits the kernel kills everything the run started.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys

# jsonschema (under nbformat) builds the optional rfc3987_syntax grammar at import: about 2 s of
# CPU in every run, for an "iri" format check notebooks never use. Left out, it is skipped.
sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]

import nbformat  # noqa: E402
from jupyter_client.manager import AsyncKernelManager  # noqa: E402
from nbclient import NotebookClient  # noqa: E402
from nbclient.exceptions import CellTimeoutError, DeadKernelError  # noqa: E402


def _not_run(cell: nbformat.NotebookNode, why: str) -> None:
    cell.outputs = [
        nbformat.v4.new_output("error", ename="NotRun", evalue=why, traceback=[f"NotRun: {why}"])
    ]


async def _execute(nb: nbformat.NotebookNode, cell_timeout: int) -> tuple[int, str]:
    """Run the cells in order; (index of the first cell that did not finish, why) or (-1, "")."""
    kernel = nb.metadata.get("kernelspec", {}).get("name", "python3")
    km = AsyncKernelManager(kernel_name=kernel, transport="ipc", ip="kernel")
    client = NotebookClient(
        nb, km=km, timeout=cell_timeout, allow_errors=True, record_timing=False,
        kernel_name=kernel, resources={"metadata": {"path": "."}},
    )  # fmt: skip
    index = 0
    try:
        await client.async_start_new_kernel(cwd=".")
        await client.async_start_new_kernel_client()
        for index, cell in enumerate(nb.cells):
            await client.async_execute_cell(cell, index)
    except CellTimeoutError:
        return index, f"cell {index + 1} ran past its {cell_timeout} s limit"
    except DeadKernelError:
        return index, "the kernel died (a limit of the grading sandbox was hit)"
    except Exception as err:  # a notebook that cannot run at all still gets a scored copy
        return index, f"the notebook could not run ({type(err).__name__}: {err})"[:300]
    return -1, ""


def run(src: str, dest: str, cell_timeout: int) -> None:
    nb = nbformat.read(src, as_version=4)
    # No asyncio.run: its clean-up would wait on a kernel that may never answer again.
    stopped_at, why = asyncio.new_event_loop().run_until_complete(_execute(nb, cell_timeout))
    if stopped_at >= 0:
        for cell in nb.cells[stopped_at:]:
            if cell.cell_type == "code":
                _not_run(cell, f"not run to the end: {why}")
    nbformat.write(nb, dest)


if __name__ == "__main__":
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a too-big write fails, it does not kill
    run(sys.argv[1], sys.argv[2], int(sys.argv[3]))
    sys.stdout.flush()
    os._exit(0)  # no kernel shutdown handshake: the sandbox's owner kills what is left
