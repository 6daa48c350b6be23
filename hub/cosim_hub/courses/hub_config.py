"""``configure_courses(c, settings)``: the course store, roles, exchange service, scopes, and the
hub templates that serve the course setup page and link it from the navigation bar."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from traitlets import Bool, Float, Int, TraitError, Unicode, validate
from traitlets.config import Config, Configurable

from cosim_protocol.limits import EXCHANGE_MAX_BYTES_PER_STUDENT, EXCHANGE_MAX_FILES_PER_STUDENT

from ..handlers_mixin import COURSE_CREATORS_SETTING as CREATORS_SETTING
from ..handlers_mixin import COURSES_SETTING
from ..procs import LAUNCH_ENV, free_port
from .gradeflow import GRADING_ACCOUNTS_ENV
from .model import CUSTOM_SCOPES, LEARN_SCOPE, TEACH_SCOPE, USE_SCOPE
from .store import CourseStore, read_course_file

SERVICE_NAME = "cosim-courses"
TEMPLATE_DIR = str(Path(__file__).resolve().parent.parent / "templates")
COURSES_URL_ENV = "COSIM_COURSES_URL"


class CoSimCourses(Configurable):
    """Courses (``c.CoSimCourses.<name>``)."""

    enabled = Bool(
        True, help="Serve courses: the course API, the admins' page and the exchange service."
    ).tag(config=True)

    course_file = Unicode(
        "",
        help="""JSON or YAML file of courses (a list of {id, title, instructors, tas, students}),
        merged into the course store at each hub start. Courses can also be added at run time
        through /hub/api/cosim/courses without a restart.""",
    ).tag(config=True)

    exchange_dir = Unicode(
        "",
        help="Where the exchange keeps released, submitted and returned files "
        "(default: <state_dir>/courses).",
    ).tag(config=True)

    service_port = Int(
        0, help="Port of the exchange service (0: a free port at each hub start)."
    ).tag(config=True)

    service_host = Unicode(
        "127.0.0.1",
        help="Host name under which the hub and proxy reach the exchange service "
        "(on Kubernetes: the hub's service name, 'hub').",
    ).tag(config=True)

    service_bind = Unicode(
        "", help="Address the exchange service listens on (default: service_host)."
    ).tag(config=True)

    user_url = Unicode(
        "",
        help="""URL user servers use to reach the exchange, ending in /services/cosim-courses/
        (default: the service's own URL; on Kubernetes http://proxy-public/services/...).""",
    ).tag(config=True)

    creators_group = Unicode(
        "instructors",
        help="""Hub group whose members may create courses on the setup page (/hub/cosim/courses)
        and become their instructors; admins always may. Empty: admins only.""",
    ).tag(config=True)

    max_transfer_mb = Float(50.0, help="Largest release, submission or feedback (MiB).").tag(
        config=True
    )

    student_quota_mb = Float(
        EXCHANGE_MAX_BYTES_PER_STUDENT / 2**20,
        help="What the exchange keeps of one student's submissions in one course, all "
        "assignments and attempts together (MiB); past it a submission gets 413.",
    ).tag(config=True)

    student_quota_files = Int(
        EXCHANGE_MAX_FILES_PER_STUDENT,
        help="How many submitted files the exchange keeps of one student in one course.",
    ).tag(config=True)

    grading_accounts = Int(
        0,
        help="""How many submissions the exchange autogrades at once: the size of the grading
        sandbox's account pool (<account prefix>grader-0, -1, ...), one account per running
        notebook. 0 (the default) means one per CPU of the machine the exchange runs on, and
        at least 2. Each running submission may use up to its sandbox's memory limit (4 GiB).""",
    ).tag(config=True)

    @validate("grading_accounts")
    def _valid_grading_accounts(self, proposal: Any) -> int:
        if proposal["value"] < 0:
            raise TraitError("CoSimCourses.grading_accounts must be 0 (one per CPU) or more")
        return int(proposal["value"])


class CourseCreatorTest:
    """Template var: whether a hub page's user may create courses (admin or creators' group)."""

    def __init__(self, group: str) -> None:
        self.group = group

    def __call__(self, user: Any) -> bool:
        if user is None:
            return False
        if user.admin:
            return True
        return bool(self.group) and self.group in {g.name for g in user.groups}


def _merge_list(section: Any, name: str, items: list[Any]) -> None:
    existing = list(section[name]) if name in section else []
    section[name] = existing + [i for i in items if i not in existing]


def configure_courses(c: Config, state_dir: str, manage_groups: bool) -> None:
    courses = CoSimCourses(config=c)
    if not courses.enabled:
        return
    hub_dir = Path(state_dir) / "hub"
    store = CourseStore(hub_dir / "courses.json")
    if courses.course_file:
        current = store.load()
        for course in read_course_file(courses.course_file):
            current[course.id] = course
        store.save(current)
    loaded = store.load()

    settings = dict(c.JupyterHub.tornado_settings) if "tornado_settings" in c.JupyterHub else {}
    settings[COURSES_SETTING] = str(store.path)
    settings[CREATORS_SETTING] = courses.creators_group
    c.JupyterHub.tornado_settings = settings
    # CoSim's page.html adds a "Courses" link to every hub page; it extends the hub's own.
    _merge_list(c.JupyterHub, "template_paths", [TEMPLATE_DIR])
    template_vars = dict(c.JupyterHub.template_vars) if "template_vars" in c.JupyterHub else {}
    template_vars.setdefault("cosim_course_creator", CourseCreatorTest(courses.creators_group))
    c.JupyterHub.template_vars = template_vars

    custom = dict(c.JupyterHub.custom_scopes) if "custom_scopes" in c.JupyterHub else {}
    custom.update(CUSTOM_SCOPES)
    c.JupyterHub.custom_scopes = custom

    # Roles not in load_roles are deleted at hub start: reload every course's roles from the store.
    _merge_list(c.JupyterHub, "load_roles", [r for co in loaded.values() for r in co.roles()])
    extend_user_role(c, [f"{USE_SCOPE}!user"])
    if not manage_groups:
        groups = dict(c.JupyterHub.load_groups) if "load_groups" in c.JupyterHub else {}
        for co in loaded.values():
            groups.setdefault(co.group, {"users": co.students})
        c.JupyterHub.load_groups = groups

    port = courses.service_port or free_port()
    url = f"http://{courses.service_host}:{port}"
    env = {
        "COSIM_COURSES_FILE": str(store.path),
        "COSIM_EXCHANGE_DIR": courses.exchange_dir or str(Path(state_dir) / "courses"),
        "COSIM_EXCHANGE_MAX_MB": str(courses.max_transfer_mb),
        "COSIM_EXCHANGE_STUDENT_MAX_MB": str(courses.student_quota_mb),
        "COSIM_EXCHANGE_STUDENT_MAX_FILES": str(courses.student_quota_files),
        "COSIM_EXCHANGE_BIND": courses.service_bind or courses.service_host,
        GRADING_ACCOUNTS_ENV: str(courses.grading_accounts),
    }
    if os.environ.get(LAUNCH_ENV):
        env[LAUNCH_ENV] = os.environ[LAUNCH_ENV]
    if "account_prefix" in c.CoSimLocalSpawner:  # grading accounts sit beside the users' own
        env["COSIM_GRADER_PREFIX"] = f"{c.CoSimLocalSpawner.account_prefix}grader-"
    _merge_list(
        c.JupyterHub,
        "services",
        [
            {
                "name": SERVICE_NAME,
                "url": url,
                "command": [sys.executable, "-m", "cosim_hub.courses.exchange"],
                "environment": env,
                "display": False,
            }
        ],
    )
    spawner_env = dict(c.Spawner.environment) if "environment" in c.Spawner else {}
    spawner_env.setdefault(COURSES_URL_ENV, courses.user_url or f"{url}/services/{SERVICE_NAME}/")
    c.Spawner.environment = spawner_env
    add_server_token_scopes(c, [f"{USE_SCOPE}!user", TEACH_SCOPE, LEARN_SCOPE])


def extend_user_role(c: Config, scopes: list[str]) -> None:
    """Add scopes to the default 'user' role (every user holds it), keeping its 'self'."""
    roles = list(c.JupyterHub.load_roles) if "load_roles" in c.JupyterHub else []
    for i, role in enumerate(roles):
        if role.get("name") == "user":
            merged = list(role.get("scopes", ["self"]))
            roles[i] = {**role, "scopes": merged + [s for s in scopes if s not in merged]}
            break
    else:
        roles.append({"name": "user", "scopes": ["self", *scopes]})
    c.JupyterHub.load_roles = roles


DEFAULT_SERVER_SCOPES = ["users:activity!user", "access:servers!server"]


def add_server_token_scopes(c: Config, scopes: list[str]) -> None:
    """Give user servers' own tokens these scopes (always cut down to what the owner holds)."""
    current = c.Spawner.server_token_scopes if "server_token_scopes" in c.Spawner else None
    if callable(current):
        return  # the deployment decides per server
    _merge_list(c.Spawner, "server_token_scopes", [*DEFAULT_SERVER_SCOPES, *scopes])
