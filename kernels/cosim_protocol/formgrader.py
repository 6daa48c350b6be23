"""Manual grading with nbgrader's formgrader on a copy of a course's grading state.

No user server touches a course's gradebook: an instructor's server fetches a *snapshot* of one
assignment from the course exchange, runs nbgrader's formgrader on that copy, and sends back the
*manual changes* it made. Both travel as JSON:

snapshot (``GET <exchange>/api/courses/<c>/grading/<a>/snapshot``, staff only)::

    {"schema": SCHEMA_VERSION, "course": str, "assignment": str, "version": int,
     "submissions": {student: revision}, "files": {path: base64}}

``files`` holds nbgrader's course folder for that assignment: ``source/<a>/...``,
``autograded/<student>/<a>/...`` and ``gradebook.db`` (a consistent copy of the course's sqlite
gradebook); not the generated feedback, which formgrader does not read. ``version`` counts the
gradebook's changes (autograding and manual grading), so a caller can tell that its copy is out
of date.
``submissions`` holds each graded student's *revision*: a number that changes whenever that
student's submission is autograded (a resubmission graded again, or a grading run starting),
and never on manual grading.

manual changes (``POST <exchange>/api/courses/<c>/grading/<a>/manual``, staff only)::

    {"schema": SCHEMA_VERSION, "submissions": {student: revision the snapshot held},
     "changes": [{"student": str, "notebook": str, "cell": str,
                  FIELD: new value, "base": the value the snapshot held}, ...]}

with exactly one FIELD of :data:`FIELDS` per change. ``manual_score`` and ``extra_credit`` are
numbers or null (null: back to the autograded score), ``manual_comment`` text or null;
``submissions`` names the revision of every student the changes touch. Answers:

- 200 ``{"version": int, "applied": int}``;
- 400 for a request that does not fit (unknown cell, score above the cell's points or below 0,
  a student without a revision): nothing is applied;
- 409 ``{"message", "applied": int, "version": int, "conflicts": [{..change.., "current":
  value, "reason": REGRADED | CHANGED, "revision": int}]}``. A submission conflicts when it
  was autograded again since the snapshot (its revision moved: ``REGRADED``, every change of
  that student is listed) or when one of its fields no longer holds its ``base`` (someone else
  graded it: ``CHANGED``, that field's change is listed). Conflicts are per submission: every
  change of a conflicted student is held back, every other student's is applied (``applied``
  counts them). A change whose
  field already holds its new value is no conflict (a retry of a send whose answer was lost).
  The way out is the same for both reasons: open a fresh snapshot and grade those again.
"""

from __future__ import annotations

import math
from typing import Any

SCHEMA_VERSION = 2  # 2: per-submission revisions (a regrade since the snapshot is a conflict)

SNAPSHOT_GRADEBOOK = "gradebook.db"  # the gradebook's path inside a snapshot's files
SCORE_FIELDS = ("manual_score", "extra_credit")
FIELDS = (*SCORE_FIELDS, "manual_comment")
MAX_CHANGES = 5000  # per request: a class of 200 with 25 graded cells each
MAX_COMMENT_CHARS = 20_000
NAME_MAX = 255
REGRADED = "regraded"  # 409 reasons: the submission was autograded again since the snapshot
CHANGED = "changed"  # ... or a field no longer holds its base (someone else graded it)


class ManualChangeError(ValueError):
    """A manual change list that is not well formed, with a message fit for a 400 answer."""


def field_of(change: dict[str, Any]) -> str:
    """The one field a (checked) change sets."""
    return next(f for f in FIELDS if f in change)


def _check_value(field: str, value: Any, where: str) -> None:
    if value is None:
        return
    if field == "manual_comment":
        if not isinstance(value, str) or len(value) > MAX_COMMENT_CHARS:
            raise ManualChangeError(f"{where}: manual_comment must be text of at most "
                                    f"{MAX_COMMENT_CHARS} characters, or null")  # fmt: skip
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ManualChangeError(f"{where}: {field} must be a number or null")


def check_manual_changes(body: Any) -> list[dict[str, Any]]:
    """The changes of a manual-grading request, each checked for shape (not against a gradebook:
    that is the exchange's). Raises :class:`ManualChangeError`."""
    if not isinstance(body, dict) or not isinstance(body.get("changes"), list):
        raise ManualChangeError(
            f'body must be {{"schema": {SCHEMA_VERSION}, "submissions": {{...}}, "changes": [...]}}'
        )
    if body.get("schema") != SCHEMA_VERSION:
        raise ManualChangeError(f"unknown schema {body.get('schema')!r} (this is {SCHEMA_VERSION}"
                                "): open formgrader again on a fresh copy")  # fmt: skip
    changes = body["changes"]
    if not changes:
        raise ManualChangeError("no changes given")
    if len(changes) > MAX_CHANGES:
        raise ManualChangeError(f"at most {MAX_CHANGES} changes per request")
    out = []
    for i, change in enumerate(changes):
        where = f"change {i}"
        if not isinstance(change, dict):
            raise ManualChangeError(f"{where} must be an object")
        for key in ("student", "notebook", "cell"):
            value = change.get(key)
            if not isinstance(value, str) or not value or len(value) > NAME_MAX:
                raise ManualChangeError(f"{where}: {key} must be a name")
        fields = [f for f in FIELDS if f in change]
        if len(fields) != 1:
            raise ManualChangeError(f"{where} must set exactly one of {', '.join(FIELDS)}")
        if "base" not in change:
            raise ManualChangeError(f"{where} has no base (the value its snapshot held)")
        extra = set(change) - {"student", "notebook", "cell", "base", *FIELDS}
        if extra:
            raise ManualChangeError(f"{where}: unknown key {sorted(extra)[0]!r}")
        _check_value(fields[0], change[fields[0]], where)
        _check_value(fields[0], change["base"], f"{where} base")
        out.append({k: change[k] for k in ("student", "notebook", "cell", fields[0], "base")})
    return out


def check_revisions(body: dict[str, Any], changes: list[dict[str, Any]]) -> dict[str, int]:
    """The snapshot's revision of every student ``changes`` touch (call after
    :func:`check_manual_changes`). Raises :class:`ManualChangeError`."""
    revisions = body.get("submissions")
    if not isinstance(revisions, dict):
        raise ManualChangeError("submissions must map each student to the revision its snapshot "
                                "held")  # fmt: skip
    out = {}
    for student in sorted({c["student"] for c in changes}):
        revision = revisions.get(student)
        if isinstance(revision, bool) or not isinstance(revision, int) or revision < 0:
            raise ManualChangeError(f"submissions: no revision for {student}")
        out[student] = revision
    return out


def conflict_message(conflicts: list[dict[str, Any]], applied: int, total: int) -> str:
    """One text for a 409: who conflicted and why, what was applied, what to do."""
    why: dict[tuple[str, str], str] = {}
    for c in conflicts:
        key = (c["student"], c["notebook"])
        if why.get(key) != REGRADED:  # a regrade says more than a changed cell
            why[key] = c["reason"]
    said = {REGRADED: "was autograded again (resubmitted)", CHANGED: "was graded by someone else"}
    parts = [f"{s}/{nb} {said[reason]}" for (s, nb), reason in sorted(why.items())]
    held = total - applied
    return (f"{'; '.join(parts)} since your copy: {held} change{'s'[:held != 1]} held back, "
            f"{applied} applied. Open formgrader again on a fresh copy (discarding the held-back "
            "changes) and grade those again.")  # fmt: skip
