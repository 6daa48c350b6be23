from __future__ import annotations

import os
from pathlib import Path

import pytest

from cosim.jobs import JobError
from cosim.snapshots import SnapshotError
from cosim_protocol.control import ControlError
from cosim_server.base import CoSimError, confine_path
from cosim_server.errors import user_errors


@pytest.mark.parametrize(
    "user_path, expected",
    [
        ("a.txt", "a.txt"),
        ("sub/dir/../b.txt", "sub/b.txt"),
        ("", "."),
        (".", "."),
    ],
)
def test_confine_accepts_paths_inside(tmp_path: Path, user_path: str, expected: str) -> None:
    assert confine_path(tmp_path, user_path) == (tmp_path / expected).resolve()


@pytest.mark.parametrize(
    "user_path",
    ["../x", "a/../../x", "/etc/passwd", "..", "nul\x00byte", "link/secret"],
)
def test_confine_rejects_escapes(tmp_path: Path, user_path: str) -> None:
    os.symlink("/etc", tmp_path / "link")
    with pytest.raises(CoSimError) as err:
        confine_path(tmp_path, user_path)
    assert err.value.status_code == 400
    assert err.value.message


def test_confine_rejects_non_strings(tmp_path: Path) -> None:
    with pytest.raises(CoSimError):
        confine_path(tmp_path, 42)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "error, status",
    [
        # Its words start with "no " but it is no "not found": the status decides, not the text.
        (SnapshotError("no room to write the snapshot (No space left on device)"), 400),
        (SnapshotError("no snapshot 2099 in /w", 404), 404),
        (JobError("job 1 is running", 409), 409),
        (ControlError("speed must be in [0, 100]"), 400),
    ],
)
def test_user_errors_map_to_their_own_status(error: Exception, status: int) -> None:
    with pytest.raises(CoSimError) as raised, user_errors():
        raise error
    assert raised.value.status_code == status and raised.value.message == str(error)


def test_other_errors_are_not_user_errors() -> None:
    with pytest.raises(KeyError), user_errors():
        raise KeyError("a bug stays a 500 with a log entry")
