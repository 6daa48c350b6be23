"""An nbgrader-format assignment for tests: `add(a, b)` with a visible test (3 points, one hidden
assert) and a second test (1 point). A right answer scores 4 of 4; `abs(a) + abs(b)` scores 1."""

from __future__ import annotations

import nbformat

SOLUTION = """def add(a, b):
    ### BEGIN SOLUTION
    return a + b
    ### END SOLUTION"""
TESTS = """assert add(1, 2) == 3
### BEGIN HIDDEN TESTS
assert add(-1, 1) == 0
### END HIDDEN TESTS"""
RIGHT = "def add(a, b):\n    return a + b"
WRONG = "def add(a, b):\n    return abs(a) + abs(b)"  # passes test_more only: 1 of 4


def _meta(grade_id: str, *, solution: bool = False, points: int = 0) -> dict[str, object]:
    return {"nbgrader": {"grade": points > 0, "grade_id": grade_id, "locked": not solution,
                         "points": points, "schema_version": 3, "solution": solution,
                         "task": False}}  # fmt: skip


def source_notebook() -> nbformat.NotebookNode:
    cells = [
        nbformat.v4.new_markdown_cell("Write `add`.", metadata=_meta("intro")),
        nbformat.v4.new_code_cell(SOLUTION, metadata=_meta("add", solution=True)),
        nbformat.v4.new_code_cell(TESTS, metadata=_meta("test_add", points=3)),
        nbformat.v4.new_code_cell("assert add(2, 2) == 4", metadata=_meta("test_more", points=1)),
    ]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return nb


def answered(released: nbformat.NotebookNode, solution: str) -> nbformat.NotebookNode:
    """The released notebook with the student's answer in the solution cell."""
    copy = nbformat.from_dict(released)
    copy.cells[1].source = solution
    return copy
