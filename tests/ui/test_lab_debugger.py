"""Lab's own debugger on a python3 kernel (DESIGN: we use Jupyter's debugging, not our own):
the notebook's bug button is enabled, turns the debugger on, and its panel shows the kernel's
variables after a cell runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cosim_testing.plugin import VISIBLE_NOTEBOOK as PANEL
from cosim_testing.plugin import lab_login, open_notebook, put_notebook
from cosim_testing.stack import CoSimStack

LAB_TIMEOUT = 120_000


def test_debugger_on_a_python_notebook(
    cosim_stack: CoSimStack, cosim_context: Any, cosim_artifacts: Path
) -> None:
    name = put_notebook(cosim_stack, "joint_angle = 41\nnext_angle = joint_angle + 1", "dbg")
    page = cosim_context.new_page()
    lab_login(page, cosim_stack, cosim_stack.admin, cosim_stack.admin_password)
    open_notebook(page, cosim_stack, name)
    page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=LAB_TIMEOUT)

    page.locator(f"{PANEL} .jp-DebuggerBugButton[title='Enable Debugger']").click(
        timeout=LAB_TIMEOUT
    )
    page.locator(f"{PANEL} .jp-DebuggerBugButton[title='Disable Debugger']").wait_for(
        timeout=60_000
    )
    page.locator(f"{PANEL} .jp-Cell .cm-content").first.click()
    page.keyboard.press("Shift+Enter")
    variables = page.locator(".jp-DebuggerVariables", has_text="next_angle")
    variables.first.wait_for(timeout=60_000)
    assert "joint_angle" in variables.first.inner_text()
    page.screenshot(path=str(cosim_artifacts / "lab-python-debugger.png"))
