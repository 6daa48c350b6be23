"""Project templates as data: ``<templates>/<name>/template.toml`` plus the files to copy.

A template declares its parameters (type, default, range or choices, help). Every value a user
gives, from Lab, REST or the CLI, is checked here, so bad input is one clear message naming the
parameter and its allowed range, never a traceback in a training log.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Where the templates shipped with CoSim live: the repo's templates/ folder, which the wheel
# force-includes as cosim/jobs/templates.
BUILTIN_DIR = Path(__file__).with_name("templates")
PROJECT_FILE = "cosim.json"  # template name, entry point and params of a project folder
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
PARAM_TYPES = {"int", "float", "str", "bool"}
_ARTICLE = {"int": "an integer", "float": "a number", "str": "a string", "bool": "true or false"}


class TemplateError(Exception):
    """A problem with a template or its parameters that the user can act on.

    ``status`` is the HTTP status the server answers with (404 unknown, 400 bad input,
    409 conflict)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Param:
    name: str
    type: str
    default: Any
    help: str = ""
    range: tuple[float, float] | None = None
    choices: tuple[Any, ...] | None = None

    def describe_allowed(self) -> str:
        if self.choices is not None:
            return "one of " + ", ".join(map(str, self.choices))
        if self.range is not None:
            return f"{_ARTICLE[self.type]} in [{_fmt(self.range[0])}, {_fmt(self.range[1])}]"
        return _ARTICLE[self.type]

    def check(self, value: Any) -> Any:
        """``value`` converted to this param's type, or ``TemplateError`` naming the range."""
        bad = TemplateError(
            f"parameter {self.name!r} must be {self.describe_allowed()}, not {value!r}"
        )
        if self.type == "bool":
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
                return value.lower() in ("true", "1")
            raise bad
        if self.type == "int":
            if isinstance(value, str):
                try:
                    value = int(value.replace("_", ""))
                except ValueError:
                    raise bad from None
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            if isinstance(value, bool) or not isinstance(value, int):
                raise bad
        elif self.type == "float":
            if isinstance(value, str):
                try:
                    value = float(value)
                except ValueError:
                    raise bad from None
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise bad
            value = float(value)
            if not math.isfinite(value):
                raise bad
        elif not isinstance(value, str):
            raise bad
        if self.choices is not None and value not in self.choices:
            raise bad
        if self.range is not None and not self.range[0] <= value <= self.range[1]:
            raise bad
        return value

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "type": self.type,
            "default": self.default,
            "help": self.help,
        }
        if self.range is not None:
            out["range"] = list(self.range)
        if self.choices is not None:
            out["choices"] = list(self.choices)
        return out


def _fmt(x: float) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


@dataclass(frozen=True)
class Template:
    name: str
    path: Path
    title: str
    description: str
    kind: str
    entry: str
    params: dict[str, Param] = field(default_factory=dict)
    # The param whose value is the number of CPUs a job of this template claims (per-user limit).
    cpus_param: str | None = None

    def validate(self, given: dict[str, Any] | None) -> dict[str, Any]:
        """All params with defaults filled in; unknown names and bad values are a 400."""
        if given is None:
            given = {}
        if not isinstance(given, dict):
            raise TemplateError("params must be an object of name: value")
        unknown = sorted(set(given) - set(self.params))
        if unknown:
            raise TemplateError(
                f"unknown parameter {unknown[0]!r} for template {self.name!r}; "
                f"known: {', '.join(self.params)}"
            )
        return {n: p.check(given[n]) if n in given else p.default for n, p in self.params.items()}

    def cpus(self, params: dict[str, Any]) -> int:
        return max(1, int(params.get(self.cpus_param, 1))) if self.cpus_param else 1

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "kind": self.kind,
            "entry": self.entry,
            "params": [p.as_json() for p in self.params.values()],
        }


def _parse_param(template: str, name: str, spec: Any) -> Param:
    where = f"template {template!r}, param {name!r}"
    if not isinstance(spec, dict) or spec.get("type") not in PARAM_TYPES:
        raise TemplateError(f"{where}: type must be one of {sorted(PARAM_TYPES)}", 500)
    kind = spec["type"]
    rng = spec.get("range")
    if rng is not None:
        if kind not in ("int", "float") or not (isinstance(rng, list) and len(rng) == 2):
            raise TemplateError(f"{where}: range must be [min, max] of a number param", 500)
        rng = (rng[0], rng[1])
    choices = tuple(spec["choices"]) if "choices" in spec else None
    param = Param(name, kind, None, str(spec.get("help", "")), rng, choices)
    try:
        default = param.check(spec.get("default"))
    except TemplateError as err:
        raise TemplateError(f"{where}: bad default: {err}", 500) from None
    return Param(name, kind, default, param.help, rng, choices)


def load_template(path: Path) -> Template:
    with open(path / "template.toml", "rb") as f:
        data = tomllib.load(f)
    name = path.name
    params = {n: _parse_param(name, n, s) for n, s in data.get("params", {}).items()}
    entry = str(data.get("entry", "train.py"))
    if not (path / entry).is_file():
        raise TemplateError(f"template {name!r}: entry point {entry!r} is missing", 500)
    return Template(
        name=name,
        path=path,
        title=str(data.get("title", name)),
        description=str(data.get("description", "")),
        kind=str(data.get("kind", "script")),
        entry=entry,
        params=params,
        cpus_param=data.get("cpus_param"),
    )


def template_dirs(extra: list[str] | None = None) -> list[Path]:
    """Search path: ``extra`` folders (config), ``$COSIM_TEMPLATES`` (os.pathsep list), built-in."""
    dirs = [Path(d) for d in extra or []]
    dirs += [Path(d) for d in os.environ.get("COSIM_TEMPLATES", "").split(os.pathsep) if d]
    return [*dirs, BUILTIN_DIR]


def list_templates(extra: list[str] | None = None) -> list[Template]:
    """Every template on the search path; an earlier folder wins for the same name."""
    found: dict[str, Template] = {}
    for base in template_dirs(extra):
        if not base.is_dir():
            continue
        for child in sorted(base.iterdir()):
            if child.name not in found and (child / "template.toml").is_file():
                found[child.name] = load_template(child)
    return list(found.values())


def get_template(name: str, extra: list[str] | None = None) -> Template:
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise TemplateError(f"unknown template {name!r}", 404)
    for template in list_templates(extra):
        if template.name == name:
            return template
    known = ", ".join(t.name for t in list_templates(extra))
    raise TemplateError(f"unknown template {name!r}; known: {known}", 404)


def new_project(template: Template, target: Path, params: dict[str, Any]) -> dict[str, Any]:
    """Copy ``template``'s files into the new folder ``target`` and write its ``cosim.json``.

    ``params`` must already be validated. Refuses (409) a folder that exists and is not empty.
    """
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise TemplateError(f"{target.name!r} already exists and is not empty", 409)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(
        template.path,
        target,
        dirs_exist_ok=True,
        ignore=shutil.ignore_patterns("template.toml", "__pycache__", "*.pyc"),
    )
    project = {"template": template.name, "entry": template.entry, "params": params}
    (target / PROJECT_FILE).write_text(json.dumps(project, indent=2) + "\n")
    return project


def read_project(folder: Path) -> dict[str, Any]:
    """A project folder's ``cosim.json``, or a 400 saying the folder is not a project."""
    try:
        data = json.loads((folder / PROJECT_FILE).read_text())
    except FileNotFoundError:
        raise TemplateError(f"{folder.name!r} is not a CoSim project (no {PROJECT_FILE})") from None
    except (OSError, ValueError) as err:
        raise TemplateError(f"{folder.name!r}: unreadable {PROJECT_FILE}: {err}") from None
    if not isinstance(data, dict) or not isinstance(data.get("params", {}), dict):
        raise TemplateError(f"{folder.name!r}: {PROJECT_FILE} must hold an object with params")
    return data
