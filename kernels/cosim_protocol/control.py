"""``sim-control.json``: the shared control state of one live sim, and changes to it.

Layout (``schemas/control.schema.json`` says the same for other languages)::

    {
      "schema_version": 1,
      "sim_id": "<32 hex>" | null,        # the sim the file drives now (written by the server)
      "state": "running" | "paused",
      "step": 0,                            # counter: each +1 lets one sync() through while paused
      "reset": 0,                           # counter: each +1 is one reset
      "seed": 0,                            # passed to the kernel's on_reset(seed)
      "speed": 1.0,                         # real-time factor; 0 = as fast as possible
      "params": {"kp": {"value": 10.0, "min": 0.0, "max": 100.0}},   # declared by v.param()
      "events": [{"who": "bob", "what": "paused", "sim_time": 3.2, "wall_time": 1.7e9,
                  "via": "document"}]
    }

A *change* is what a button, a slider or an edited file asks for: any of ``state``, ``seed``,
``speed``, ``params`` (name -> number) and the *increments* ``step`` / ``reset`` (1 to
``MAX_INCREMENT``). Increments rather than absolute counters let two people press "step" at the
same moment and get two steps. A whole document written by an editor or from outside is turned
into a change with :func:`change_from_document`. Every check raises :class:`ControlError` with
a message that names the field and the allowed range; a rejected change leaves the document as
it was.

``via`` in an event says which road the change took (``VIAS``): ``document`` (the file's RTC
room: a toolbar press queued there, or an edit of the text), ``socket`` (a viewer WebSocket, the
fallback without jupyter-collaboration), ``rest`` (``POST .../control``), ``file`` (a write from
outside with no room open).

RTC room (jupyter-collaboration's ``text:file:<id>`` room of the file): besides the file's text
(``source``), its Y document holds ``PRESSES`` (a Y array of JSON strings, each one change that a
toolbar queued; the server applies each, credited to the sender of the update, and removes it)
and ``ROOM_STATE`` (a Y map: ``ROOM_SERVER_KEY`` is true once the server observes the room, so a
toolbar queues presses only when someone will take them).

Redis: the server publishes ``{"cmd": CONTROL_CMD, "doc": <document>}`` on the sim's control
channel (``cosim.protocol.Keys.control``); the kernel declares its params in the sim's meta under
``META_KEY`` (``{"path": <absolute file path>, "params": {...}}``).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

SCHEMA_VERSION = 1
FILE_NAME = "sim-control.json"
CONTROL_CMD = "control"
META_KEY = "control"
VIAS = ("document", "socket", "rest", "file")
PRESSES = "cosim:presses"
ROOM_STATE = "cosim:control"
ROOM_SERVER_KEY = "server"

STATES = ("running", "paused")
SEED_MAX = 2**31 - 1
SPEED_MAX = 100.0
MAX_INCREMENT = 1000
MAX_EVENTS = 50
MAX_PARAMS = 64
MAX_DOCUMENT_BYTES = 64 * 1024
PARAM_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")
PARAM_LIMIT = 1e12

DOCUMENT_FIELDS = frozenset(
    {"schema_version", "sim_id", "state", "step", "reset", "seed", "speed", "params", "events"}
)
CHANGE_FIELDS = frozenset({"state", "step", "reset", "seed", "speed", "params"})


class ControlError(ValueError):
    """A control document or change that breaks the layout; the message names the field."""


def default_document(params: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "sim_id": None,
        "state": "running",
        "step": 0,
        "reset": 0,
        "seed": 0,
        "speed": 1.0,
        "params": dict(params or {}),
        "events": [],
    }


def document_text(doc: dict[str, Any]) -> str:
    """The file's text for ``doc``: every writer (the kernel, the server, the server's copy in
    the RTC room) writes exactly this, so equal documents are equal texts."""
    return json.dumps(doc, indent=2) + "\n"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(field: str, value: Any, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ControlError(f"{field} must be a number in [{low:g}, {high:g}], not {value!r}")
    if not low <= float(value) <= high:
        raise ControlError(f"{field} must be in [{low:g}, {high:g}], not {value!r}")
    return float(value)


def _integer(field: str, value: Any, low: int, high: int) -> int:
    if not _is_int(value) or not low <= value <= high:
        raise ControlError(f"{field} must be an integer in [{low}, {high}], not {value!r}")
    return int(value)


def check_param_declaration(name: Any, value: Any, low: Any, high: Any) -> dict[str, float]:
    """One param as the kernel declares it: a valid name, finite min <= value <= max."""
    if not isinstance(name, str) or not PARAM_NAME.match(name):
        raise ControlError(
            f"param name must match {PARAM_NAME.pattern} (letters, digits, _ . -), not {name!r}"
        )
    lo = _number(f"params.{name}.min", low, -PARAM_LIMIT, PARAM_LIMIT)
    hi = _number(f"params.{name}.max", high, -PARAM_LIMIT, PARAM_LIMIT)
    if lo > hi:
        raise ControlError(f"params.{name}: min ({lo:g}) must not exceed max ({hi:g})")
    return {"value": _number(f"params.{name}", value, lo, hi), "min": lo, "max": hi}


def check_change(change: Any, doc: dict[str, Any]) -> dict[str, Any]:
    """A validated copy of ``change`` against the current document ``doc``."""
    if not isinstance(change, dict) or not change:
        raise ControlError(
            f"a change must be a non-empty object with fields {sorted(CHANGE_FIELDS)}"
        )
    unknown = set(change) - CHANGE_FIELDS
    if unknown:
        raise ControlError(
            f"unknown field {sorted(unknown)[0]!r}; allowed: {sorted(CHANGE_FIELDS)}"
        )
    out: dict[str, Any] = {}
    if "state" in change:
        if change["state"] not in STATES:
            raise ControlError(f"state must be one of {list(STATES)}, not {change['state']!r}")
        out["state"] = change["state"]
    for counter in ("step", "reset"):
        if counter in change:
            out[counter] = _integer(counter, change[counter], 1, MAX_INCREMENT)
    if "seed" in change:
        out["seed"] = _integer("seed", change["seed"], 0, SEED_MAX)
    if "speed" in change:
        out["speed"] = _number("speed", change["speed"], 0.0, SPEED_MAX)
    if "params" in change:
        params = change["params"]
        if not isinstance(params, dict):
            raise ControlError("params must be an object of name -> number")
        declared = doc.get("params", {})
        checked = {}
        for name, value in params.items():
            spec = declared.get(name)
            if spec is None:
                known = ", ".join(sorted(declared)) or "none declared yet"
                raise ControlError(f"params.{name} is not declared by the sim ({known})")
            checked[name] = _number(f"params.{name}", value, spec["min"], spec["max"])
        out["params"] = checked
    return out


def describe(change: dict[str, Any]) -> list[str]:
    """Short words for each part of a validated change, for the events list and the UI."""
    words = []
    if "state" in change:
        words.append("paused" if change["state"] == "paused" else "resumed")
    if "step" in change:
        words.append("stepped" if change["step"] == 1 else f"stepped {change['step']}x")
    if "seed" in change:
        words.append(f"set seed {change['seed']}")
    if "reset" in change:
        words.append("reset")
    if "speed" in change:
        words.append(f"set speed {change['speed']:g}x" if change["speed"] else "set speed free")
    for name, value in change.get("params", {}).items():
        words.append(f"set {name} = {value:g}")
    return words


def apply_change(
    doc: dict[str, Any],
    change: dict[str, Any],
    who: str,
    sim_time: float | None,
    wall_time: float,
    via: str | None = None,
) -> dict[str, Any]:
    """The document after a validated ``change`` by ``who`` (through ``via``, one of ``VIAS``),
    with one event recording it."""
    new = {**doc, "params": {k: dict(v) for k, v in doc.get("params", {}).items()}}
    for field in ("state", "seed", "speed"):
        if field in change:
            new[field] = change[field]
    for counter in ("step", "reset"):
        if counter in change:
            new[counter] = int(doc.get(counter, 0)) + change[counter]
    for name, value in change.get("params", {}).items():
        new["params"][name]["value"] = value
    event = {"who": who, "what": ", ".join(describe(change)), "sim_time": sim_time,
             "wall_time": wall_time}  # fmt: skip
    if via is not None:
        event["via"] = via
    new["events"] = [*doc.get("events", []), event][-MAX_EVENTS:]
    return new


def check_document(doc: Any) -> dict[str, Any]:
    """A whole document (a file, an editor's text parsed) checked field by field."""
    if not isinstance(doc, dict):
        raise ControlError("the control document must be a JSON object")
    unknown = set(doc) - DOCUMENT_FIELDS
    if unknown:
        raise ControlError(
            f"unknown field {sorted(unknown)[0]!r}; allowed: {sorted(DOCUMENT_FIELDS)}"
        )
    version = doc.get("schema_version", SCHEMA_VERSION)
    if version != SCHEMA_VERSION:
        raise ControlError(f"schema_version must be {SCHEMA_VERSION}, not {version!r}")
    out = default_document()
    sim_id = doc.get("sim_id")
    if sim_id is not None and not (
        isinstance(sim_id, str) and re.fullmatch(r"[0-9a-f]{32}", sim_id)
    ):
        raise ControlError("sim_id must be null or 32 lowercase hex characters")
    out["sim_id"] = sim_id
    if doc.get("state", "running") not in STATES:
        raise ControlError(f"state must be one of {list(STATES)}, not {doc.get('state')!r}")
    out["state"] = doc.get("state", "running")
    for counter in ("step", "reset"):
        out[counter] = _integer(counter, doc.get(counter, 0), 0, 2**53)
    out["seed"] = _integer("seed", doc.get("seed", 0), 0, SEED_MAX)
    out["speed"] = _number("speed", doc.get("speed", 1.0), 0.0, SPEED_MAX)
    params = doc.get("params", {})
    if not isinstance(params, dict) or len(params) > MAX_PARAMS:
        raise ControlError(f"params must be an object of at most {MAX_PARAMS} params")
    for name, spec in params.items():
        if not isinstance(spec, dict) or set(spec) != {"value", "min", "max"}:
            raise ControlError(f"params.{name} must be {{'value', 'min', 'max'}}")
        out["params"][name] = check_param_declaration(name, spec["value"], spec["min"], spec["max"])
    events = doc.get("events", [])
    if not isinstance(events, list):
        raise ControlError("events must be a list")
    out["events"] = [e for e in events if isinstance(e, dict)][-MAX_EVENTS:]
    return out


def change_from_document(current: dict[str, Any], written: Any) -> dict[str, Any]:
    """What a whole written document asks of ``current``: counters may only grow, params keep
    their declared ranges (only the kernel declares them), events and sim_id are the server's."""
    doc = check_document(written)
    change: dict[str, Any] = {}
    for field in ("state", "seed", "speed"):
        if doc[field] != current.get(field):
            change[field] = doc[field]
    for counter in ("step", "reset"):
        delta = doc[counter] - int(current.get(counter, 0))
        if delta < 0:
            raise ControlError(f"{counter} is a counter: it may only grow (now {current[counter]})")
        if delta:
            change[counter] = delta
    declared = current.get("params", {})
    values = {}
    for name, spec in doc["params"].items():
        if name not in declared:
            raise ControlError(f"params.{name} is not declared by the sim")
        if spec["value"] != declared[name]["value"]:
            values[name] = spec["value"]
    if values:
        change["params"] = values
    return check_change(change, current) if change else {}


def declare_params(doc: dict[str, Any], declared: dict[str, Any]) -> dict[str, Any]:
    """The document with the kernel's declared params: new ones at their declared value, known
    ones keep their value where it is still inside the (maybe new) range."""
    params = {}
    for name, spec in declared.items():
        checked = check_param_declaration(name, spec["value"], spec["min"], spec["max"])
        old = doc.get("params", {}).get(name)
        if old is not None and checked["min"] <= old["value"] <= checked["max"]:
            checked["value"] = old["value"]
        params[name] = checked
    return {**doc, "params": params}
