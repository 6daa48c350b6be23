"""An assignment's deadline, late policy and feedback setting: validated once, stored in the
assignment's meta file in the exchange, and used to accept, refuse or flag a submission.

Late policies:
- ``none`` (default): after the deadline a student who already submitted cannot submit again
  (their earlier submission is kept and graded); a first submission after it is taken, flagged late.
- ``flag``: submissions after the deadline are taken and flagged late, with no penalty.
- ``penalty``: taken, flagged late, and ``penalty_per_hour`` points off per started hour late
  (never below 0), applied by nbgrader's late-penalty step.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

LATE_POLICIES = ("none", "flag", "penalty")
STAMP_FORMAT = "%Y%m%dT%H%M%S"


class PolicyError(ValueError):
    """Bad assignment settings, with a message fit for a 400 answer."""


def parse_due(value: Any) -> float | None:
    """An ISO 8601 date-time (UTC when it names no zone) or null -> Unix seconds or None."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > 40:
        raise PolicyError("due must be an ISO 8601 date-time such as 2026-12-01T12:00:00Z")
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise PolicyError(
            f"due {value!r} is not an ISO 8601 date-time such as 2026-12-01T12:00:00Z"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def stamp_now() -> str:
    """A submission folder name: sortable UTC time + nanoseconds."""
    now = time.time_ns()
    return time.strftime(STAMP_FORMAT, time.gmtime(now / 1e9)) + f"-{now % 10**9:09d}"


def stamp_seconds(stamp: str) -> float:
    """Unix seconds of a submission folder name made by :func:`stamp_now`."""
    head, _, frac = stamp.partition("-")
    base = datetime.strptime(head, STAMP_FORMAT).replace(tzinfo=UTC).timestamp()
    return base + (int(frac) / 1e9 if frac.isdigit() else 0.0)


@dataclass(frozen=True)
class AssignmentPolicy:
    due: float | None = None  # Unix seconds
    late_policy: str = "none"
    penalty_per_hour: float = 0.0
    instant_feedback: bool = False

    @classmethod
    def from_request(cls, body: dict[str, Any], base: AssignmentPolicy | None = None) -> Any:
        """Settings from a request body; fields it leaves out keep ``base``'s values."""
        current = base or cls()
        due = parse_due(body["due"]) if "due" in body else current.due
        late = body.get("late_policy", current.late_policy)
        if late not in LATE_POLICIES:
            raise PolicyError(f"late_policy must be one of {', '.join(LATE_POLICIES)}: {late!r}")
        penalty = body.get("penalty_per_hour", current.penalty_per_hour)
        if isinstance(penalty, bool) or not isinstance(penalty, (int, float)):
            raise PolicyError("penalty_per_hour must be a number of points")
        if not math.isfinite(penalty) or not 0 <= penalty <= 1000:
            raise PolicyError("penalty_per_hour must be between 0 and 1000 points")
        instant = body.get("instant_feedback", current.instant_feedback)
        if not isinstance(instant, bool):
            raise PolicyError("instant_feedback must be true or false")
        return cls(due, late, float(penalty), instant)

    @classmethod
    def from_meta(cls, meta: dict[str, Any]) -> AssignmentPolicy:
        return cls(
            due=meta.get("due_at"),
            late_policy=meta.get("late_policy", "none"),
            penalty_per_hour=float(meta.get("penalty_per_hour", 0.0)),
            instant_feedback=bool(meta.get("instant_feedback", False)),
        )

    def to_meta(self) -> dict[str, Any]:
        body = asdict(self)
        body["due_at"] = body.pop("due")
        body["due"] = iso(self.due) if self.due is not None else None
        return body

    def is_late(self, submitted_at: float) -> bool:
        return self.due is not None and submitted_at > self.due

    def refusal(self, now: float, earlier_stamp: str | None) -> str | None:
        """Why a submission now must be refused (None: take it)."""
        if self.late_policy != "none" or not self.is_late(now) or earlier_stamp is None:
            return None
        assert self.due is not None
        return (
            f"the deadline ({iso(self.due)}) has passed and this assignment takes no late "
            f"resubmissions; your submission of {iso(stamp_seconds(earlier_stamp))} is kept "
            "and graded"
        )
