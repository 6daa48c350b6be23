"""The one error -> HTTP mapping of the server extension.

The kernel packages raise their own errors for what a user can fix (a bad parameter, an unknown
job, a snapshot that needs ``force``); each may carry ``status``, the HTTP status it stands for
(400 when it has none). Handlers wrap calls in ``with user_errors():`` and never read a message
to choose a status.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from cosim.jobs import JobError, TemplateError
from cosim.snapshots import SnapshotError
from cosim_cpp.build import BuildError
from cosim_protocol.control import ControlError

from .base import CoSimError

USER_ERRORS: tuple[type[Exception], ...] = (
    BuildError, ControlError, JobError, SnapshotError, TemplateError,
)  # fmt: skip


def http_error(err: Exception, message: str | None = None) -> CoSimError:
    """``err`` as the 4xx the user sees: its own ``status`` (else 400) and its message (or
    ``message``: the same words for a REST client, e.g. a body field for a CLI flag)."""
    return CoSimError(getattr(err, "status", 400), str(err) if message is None else message)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn a user error raised inside into its 4xx (see ``http_error``)."""
    try:
        yield
    except USER_ERRORS as err:
        raise http_error(err) from None
