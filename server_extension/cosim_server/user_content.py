"""Content a user serves from their own server, made harmless to whoever opens it.

Anything under ``files/`` or behind ``/proxy/<port>`` is HTML that the server's owner wrote. Opened
by someone else (an instructor, an admin, a user the server is shared with) it would run as that
visitor's page on this server's origin. So:

- ``files/`` answers carry ``Content-Security-Policy: sandbox``: the page gets an opaque origin
  and runs no script, whatever it contains;
- jupyter-server-proxy's arbitrary ``/proxy/<port>`` (and ``/proxy/<host>:<port>``) answers 403
  unless the port is in ``c.CoSimServer.allowed_proxy_ports``, and what an allowed port serves
  is sandboxed too (scripts run, but in an opaque origin without this server's cookies).
  CoSim's own TensorBoard has its own route (``/cosim/tensorboard/<job>/``) and is not affected.

The files/ handler is set as the contents manager's default when the extension links (before
the server builds its routes); a files_handler_class in the server's own config wins.
The proxy routes are added by the cosim_server extension, which loads before jupyter_server_proxy
(extensions load in name order), so they win over jupyter-server-proxy's own.
"""

from __future__ import annotations

from typing import Any

from jupyter_server.base.handlers import AuthenticatedFileHandler, JupyterHandler
from jupyter_server_proxy.handlers import LocalProxyHandler, RemoteProxyHandler
from tornado import web

FILES_CSP = "sandbox"
ALLOWED_PORTS_SETTING = "cosim_allowed_proxy_ports"
PROXY_CSP_SETTING = "cosim_proxied_content_csp"


class SandboxedFileHandler(AuthenticatedFileHandler):
    """``files/``: the contents manager's file handler, plus a CSP sandbox on every answer."""

    @property
    def content_security_policy(self) -> str:
        # Not AuthenticatedFileHandler's "sandbox allow-scripts": a browser obeys the first
        # sandbox directive it sees, so ours must replace it, not follow it.
        base: str = JupyterHandler.content_security_policy.fget(self)  # type: ignore[attr-defined]
        return f"{base}; {FILES_CSP}"


def sandbox_files_by_default(config: Any) -> None:
    """Make SandboxedFileHandler serve files/ unless the config already names a handler."""
    for section in ("FileContentsManager", "ContentsManager"):
        if section in config and "files_handler_class" in config[section]:
            return
    config.FileContentsManager.files_handler_class = SandboxedFileHandler


class _PortGuard:
    """Refuse ports the admin did not allow; sandbox what allowed ports serve."""

    settings: dict[str, Any]
    path_args: list[str]
    _headers_written: bool

    async def prepare(self) -> Any:
        # path_args end with (port, proxied_path) for both the local and the host:port routes.
        port = int(self.path_args[-2])
        allowed = self.settings.get(ALLOWED_PORTS_SETTING) or ()
        if port not in allowed:
            raise web.HTTPError(
                403,
                f"Proxying port {port} is off on this server; an admin may allow it with "
                "c.CoSimServer.allowed_proxy_ports",
            )
        return await super().prepare()  # type: ignore[misc]

    def flush(self, *args: Any, **kwargs: Any) -> Any:
        # The proxy replaces all headers with the backend's: add the sandbox just before they go.
        csp = self.settings.get(PROXY_CSP_SETTING)
        if csp and not self._headers_written and not getattr(self, "_cosim_csp_added", False):
            self.add_header("Content-Security-Policy", csp)  # type: ignore[attr-defined]
            self._cosim_csp_added = True
        return super().flush(*args, **kwargs)  # type: ignore[misc]


class GuardedLocalProxyHandler(_PortGuard, LocalProxyHandler):
    pass


class GuardedRemoteProxyHandler(_PortGuard, RemoteProxyHandler):
    pass


def routes() -> list[tuple[str, type, dict[str, Any]] | tuple[str, type]]:
    """jupyter-server-proxy's arbitrary-port routes, guarded (same patterns, same options)."""
    remote = {"host_allowlist": ["localhost", "127.0.0.1"]}
    return [
        (r"/proxy/([^/:@]+):(\d+)(/.*|)", GuardedRemoteProxyHandler, remote),
        (r"/proxy/absolute/([^/:@]+):(\d+)(/.*|)", GuardedRemoteProxyHandler,
         {**remote, "absolute_url": True}),
        (r"/proxy/(\d+)(/.*|)", GuardedLocalProxyHandler, {}),
        (r"/proxy/absolute/(\d+)(/.*|)", GuardedLocalProxyHandler, {"absolute_url": True}),
    ]  # fmt: skip
