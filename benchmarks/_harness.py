"""Import first: puts tests/ on sys.path so benchmarks can use the test harness (cosim_testing),
which is not part of the installed product."""

import sys
from pathlib import Path

_TESTS = str(Path(__file__).resolve().parents[1] / "tests")
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)
