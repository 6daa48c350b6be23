"""Every write a user server's routes take asks Jupyter's authorizer: a view-only visitor
(an authorizer that grants only "read") gets 403 from each, JupyterLab's own settings,
workspaces, plugin, extension and build endpoints included (``cosim_server.lab_writes``;
without it they only check that someone is logged in).

The routes come from the running server's routing table, with the extensions a user server
loads, so a handler added later is covered. Only what is not acting on the owner's server is
left out, each with its reason.
"""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path
from typing import Any

import pytest
from test_auth_required import METHODS, Probe, ReadOnlyAuthorizer
from tornado.simple_httpclient import HTTPTimeoutError
from tornado.web import RequestHandler

from cosim_server.base import action_for
from cosim_testing.routing import router_rules, sample_path

# (handler module prefix, class): not refused to a reader, and why that is right.
NOT_ACTING = {
    ("jupyter_server.auth.login", "LoginFormHandler"): "logging in",
    ("jupyter_server.auth.login", "LegacyLoginHandler"): "logging in",
    ("jupyter_server.auth.logout", "LogoutHandler"): "logging out",
    ("jupyter_server.services.api.handlers", "IdentityHandler"): "the caller's own name",
    ("jupyter_server.base.handlers", "MainHandler"): "the landing page: POST and PUT are GET",
    # /proxy/<port>: 403 unless the admin allowed the port (cosim_server.user_content).
    ("cosim_server.user_content", "GuardedLocalProxyHandler"): "closed ports",
    ("cosim_server.user_content", "GuardedRemoteProxyHandler"): "closed ports",
}
THEMES = "lab/api/settings/@jupyterlab/apputils-extension:themes"


def _app_dir(tmp_path: Path) -> Path:
    """Lab's application folder for this server: the installed one's parts linked in, so that a
    build this test let through by mistake (or a clean after it) touches only its own folder."""
    import jupyterlab.commands

    app_dir = tmp_path / "lab"
    app_dir.mkdir()
    for part in Path(jupyterlab.commands.get_app_dir()).iterdir():
        if part.name not in ("staging", "extensions"):
            (app_dir / part.name).symlink_to(part)
    return app_dir


@pytest.fixture
def jp_server_config(cosim_redis_url: str, tmp_path: Path) -> dict[str, Any]:
    return {
        "ServerApp": {
            "jpserver_extensions": {
                "cosim_server": True,
                "jupyterlab": True,
                "jupyter_server_fileid": True,
                "jupyter_server_ydoc": True,
                "jupyter_server_terminals": True,
            },
            "authorizer_class": ReadOnlyAuthorizer,
        },
        "CoSimServer": {"redis_url": cosim_redis_url, "redis_timeout": 1.0},
        "LabApp": {"app_dir": str(_app_dir(tmp_path)),
                   "user_settings_dir": str(tmp_path / "settings"),
                   "workspaces_dir": str(tmp_path / "workspaces")},
        "SQLiteYStore": {"db_path": str(tmp_path / "ystore.db")},
    }  # fmt: skip


@pytest.fixture(autouse=True)
def read_only() -> Any:
    ReadOnlyAuthorizer.writes = False
    yield
    ReadOnlyAuthorizer.writes = False


@pytest.fixture
def probe(jp_http_port: int, jp_auth_header: dict[str, str], http_server_client: Any) -> Probe:
    return Probe(jp_http_port, jp_auth_header)


async def _started(serverapp: Any) -> None:
    """What a real server does once its loop runs (pytest-jupyter's does not): extensions start,
    and CoSim's guards that need every route in place are put on then."""
    await serverapp._post_start()


FILLERS = ("sample", "/sample", "5f0c8a4e-1b2c-4d3e-8f9a-0b1c2d3e4f5a")


def _probe_path(pattern: str) -> str | None:
    """A path the route's pattern matches: each sample value of ``sample_path`` in turn made
    a bare word, a sub-path or a UUID (kernel and session ids), until one matches."""
    sampled = sample_path(pattern)
    pieces = sampled.split("sample")
    for fill in itertools.product(FILLERS, repeat=len(pieces) - 1):
        path = pieces[0] + "".join(f + rest for f, rest in zip(fill, pieces[1:], strict=True))
        if re.fullmatch(pattern.rstrip("$"), path):
            return path
    return None


def _writes(handler: type) -> list[str]:
    """The write verbs ``handler`` serves (its own, not tornado's 405)."""
    return [
        m
        for m in METHODS
        if action_for(m) == "write"
        and getattr(handler, m.lower()) is not getattr(RequestHandler, m.lower())
    ]


async def test_every_write_of_the_user_server_asks_the_authorizer(
    jp_serverapp: Any, probe: Probe
) -> None:
    await _started(jp_serverapp)
    problems, seen = [], set()
    for rule in router_rules(jp_serverapp.web_app.default_router):
        handler = rule.target
        if (handler.__module__, handler.__name__) in NOT_ACTING:
            continue
        writes = _writes(handler)
        path = _probe_path(rule.matcher.regex.pattern)
        if writes and path is None:
            problems.append(f"no path to probe {rule.matcher.regex.pattern} ({handler})")
            continue
        for method in writes:
            seen.add(handler.__name__)
            try:
                resp = await probe.send(method, str(path), auth=True)
            except HTTPTimeoutError:  # e.g. Lab's build handler, building
                problems.append(f"{method} {path} ({handler.__name__}): no answer (it ran)")
                continue
            if resp.code in (301, 302, 307, 308):
                continue  # a redirect moves nothing; where it leads is a route of its own
            if resp.code != 403:
                problems.append(f"{method} {path} ({handler.__module__}.{handler.__name__}): "
                                f"{resp.code} {resp.body[:80]!r}")  # fmt: skip
    # Lab's unchecked writers are among those probed (the guard's twins keep their names).
    assert {"SettingsHandler", "WorkspacesHandler", "ExtensionHandler", "BuildHandler"} <= seen
    assert {"ContentsHandler", "MainKernelHandler", "SessionRootHandler"} <= seen
    assert problems == [], "\n".join(problems)


async def test_settings_stay_readable_and_writers_may_write(
    jp_serverapp: Any, probe: Probe, jp_base_url: str
) -> None:
    await _started(jp_serverapp)
    themes = f"{jp_base_url}{THEMES}"
    assert (await probe.send("GET", themes, auth=True)).code == 200
    before = json.loads((await probe.send("GET", themes, auth=True)).body)["raw"]
    refused = await probe.send("PUT", themes, auth=True)
    assert refused.code == 403 and b"not allowed to write server" in refused.body
    assert json.loads((await probe.send("GET", themes, auth=True)).body)["raw"] == before
    ReadOnlyAuthorizer.writes = True
    saved = await probe.send("PUT", themes, auth=True)
    # Past the check, Lab's own handler answers (its body check), not the permission.
    assert saved.code != 403, saved.body
