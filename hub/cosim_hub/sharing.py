"""Users share their own servers: the scopes JupyterHub's sharing API needs, and a view-only role.

JupyterHub 5's default ``self`` scope lets a user manage shares made *with* them, not share their
own server, and sharing with someone by name needs read access to that name. Read-only sharing is
the custom scope ``custom:cosim:view``: a share that carries it (and ``access:servers``) is mapped
to read-only by the user server's authorizer (``cosim_server.auth``).
"""

from __future__ import annotations

from traitlets.config import Config

from cosim_protocol.sharing import VIEW_SCOPE

from .courses.hub_config import add_server_token_scopes, extend_user_role

# Who a user may name in a share, and the right to share their own servers.
SHARING_SCOPES = [
    "shares!user",
    "list:users",
    "read:users:name",
    "list:groups",
    "read:groups:name",
]

AUTHORIZER = "cosim_server.auth.CoSimHubAuthorizer"
CUSTOM_SCOPES = {
    VIEW_SCOPE: {
        "description": "Watch a shared CoSim server read-only: no edits, execution or control.",
    },
}


def configure_sharing(c: Config) -> None:
    custom = dict(c.JupyterHub.custom_scopes) if "custom_scopes" in c.JupyterHub else {}
    custom.update(CUSTOM_SCOPES)
    c.JupyterHub.custom_scopes = custom
    # Every user holds the view scope on their own servers, so they may pass it on in a share.
    extend_user_role(c, [*SHARING_SCOPES, f"{VIEW_SCOPE}!user"])
    add_server_token_scopes(c, [*SHARING_SCOPES, f"{VIEW_SCOPE}!user"])
    args = list(c.Spawner.args) if "args" in c.Spawner else []
    if not any(a.startswith("--ServerApp.authorizer_class") for a in args):
        c.Spawner.args = [*args, f"--ServerApp.authorizer_class={AUTHORIZER}"]
