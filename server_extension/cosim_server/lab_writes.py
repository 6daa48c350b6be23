"""JupyterLab's own write endpoints that never ask Jupyter's authorizer, made to ask it.

jupyter_server's handlers (contents, kernels, sessions, terminals) and jupyter-collaboration's
check ``@authorized`` for every verb, so a view-only visitor (``auth.CoSimHubAuthorizer``) is
refused their writes. JupyterLab's settings, workspaces, plugin manager, extension manager and
build endpoints only check that someone is logged in: a view-only visitor could change the
owner's Lab settings (keyboard shortcuts bound to commands that run code included), overwrite
their workspace, disable plugins, install extensions or rebuild Lab. Here every such route's
handler is replaced by a subclass whose ``prepare`` asks the authorizer for ``write`` on
``server`` for any verb but GET/HEAD/OPTIONS (403 when refused), as jupyter_server's own do.
Reading (Lab loads settings and its workspace) stays open to visitors.
"""

from __future__ import annotations

from typing import Any

from .base import PermissionMixin

# (module, class) of Lab's handlers that write without asking the authorizer.
UNCHECKED = frozenset(
    {
        ("jupyterlab_server.settings_handler", "SettingsHandler"),
        ("jupyterlab_server.workspaces_handler", "WorkspacesHandler"),
        ("jupyterlab.handlers.plugin_manager_handler", "PluginHandler"),
        ("jupyterlab.handlers.extension_manager_handler", "ExtensionHandler"),
        ("jupyterlab.handlers.build_handler", "BuildHandler"),
    }
)
RESOURCE = "server"


class _AsksBeforeWriting(PermissionMixin):
    """Mixed in ahead of a Lab handler: writes need the authorizer's "write"."""

    auth_resource = RESOURCE
    request: Any
    current_user: Any

    async def prepare(self) -> Any:
        result = super().prepare()  # type: ignore[misc]
        if result is not None:
            await result
        action = self.action_of(self.request.method)
        if action == "read" or self.current_user is None:
            return  # reading, or not logged in: the handler's own @web.authenticated answers
        await self.check_permission(action)


def _guarded(cls: type) -> type:
    return type(cls.__name__, (_AsksBeforeWriting, cls), {"__module__": __name__})


def _rules(router: Any) -> list[Any]:
    """Every rule of a tornado router, nested routers (host groups) included."""
    found = []
    for rule in getattr(router, "rules", []):
        if isinstance(rule.target, type):
            found.append(rule)
        else:
            found.extend(_rules(rule.target))
    return found


def guard_lab_writes(web_app: Any) -> int:
    """Swap each unchecked Lab handler in ``web_app``'s routes for its guarded twin (call once
    every extension has added its routes); returns how many routes were guarded."""
    made: dict[type, type] = {}
    count = 0
    for rule in _rules(web_app.default_router):  # the wildcard router is nested in it
        target = rule.target
        if (target.__module__, target.__name__) not in UNCHECKED:
            continue
        if target not in made:
            made[target] = _guarded(target)
        rule.target = made[target]
        count += 1
    return count
