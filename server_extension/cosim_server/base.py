"""The handler base every CoSim endpoint inherits: auth on every verb, JSON errors, confinement."""

from __future__ import annotations

import contextlib
import json
from http import HTTPStatus
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_server.base.handlers import APIHandler, JupyterHandler
from jupyter_server.base.websocket import WebSocketMixin
from jupyter_server.utils import ensure_async
from tornado import web
from tornado.websocket import WebSocketHandler

if TYPE_CHECKING:
    from .app import CoSimContext

# Verbs that only read; everything else needs the "write" permission.
_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def action_for(method: str | None) -> str:
    """The permission an HTTP verb needs: reading is not acting."""
    return "read" if method in _READ_METHODS else "write"


class PermissionMixin:
    """``check_permission``: the one place CoSim asks Jupyter's authorizer, for every handler."""

    auth_resource = "cosim"
    #: Verbs that only read here although :func:`action_for` counts them as acting: the POST
    #: queries of a read-only upstream (TensorBoard's scalars_multirun, hparams).
    read_verbs: frozenset[str] = frozenset()

    @classmethod
    def action_of(cls, method: str | None) -> str:
        """The permission ``method`` needs on this handler."""
        return "read" if method in cls.read_verbs else action_for(method)

    async def check_permission(self, action: str) -> None:
        """Raise 403 unless the current user may ``action`` CoSim's resource.

        The authorizer may be async (jupyter_server allows it): its answer is awaited, because an
        unawaited coroutine is truthy and would let every request through.
        """
        handler: Any = self
        user = handler.current_user
        if user is None:
            raise web.HTTPError(403, "authentication required")
        allowed = await ensure_async(
            handler.authorizer.is_authorized(handler, user, action, self.auth_resource)
        )
        if not allowed:
            raise web.HTTPError(403, f"not allowed to {action} {self.auth_resource}")


class CoSimError(web.HTTPError):
    """A client error with a short message that is safe to show to the user; ``details``, more
    fields of the JSON answer (a hub-side API's refusal passed on, e.g. a 409's conflicts)."""

    def __init__(
        self, status_code: int, message: str, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(status_code, reason=HTTPStatus(status_code).phrase)
        self.message = message
        self.details = details or {}


async def fetch_hub_json(
    url: str, method: str, body: Any, *, service: str, timeout: float, token: str
) -> Any:
    """Call a hub-side API with this server's own token; its refusals come back as our 4xx with
    its message, an outage as 502 naming ``service`` ("the hub", "the course exchange")."""
    from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

    request = HTTPRequest(
        url,
        method=method,
        headers={"Authorization": f"token {token}", "Content-Type": "application/json"},
        body=None if body is None else json.dumps(body),
        allow_nonstandard_methods=True,
        request_timeout=timeout,
    )
    try:
        response = await AsyncHTTPClient().fetch(request)
    except HTTPClientError as err:
        message, details = f"{service} refused the request", {}
        if err.response is not None:
            with contextlib.suppress(ValueError, TypeError, AttributeError):
                details = dict(json.loads(err.response.body))
                message = str(details.pop("message", message))
        status = err.code if err.code and 400 <= err.code < 500 else 502
        raise CoSimError(status, message, details if status < 500 else None) from None
    except OSError as err:
        raise CoSimError(502, f"{service} is unreachable: {err}") from None
    return json.loads(response.body) if response.body else {}


def confine_path(root: str | Path, user_path: str) -> Path:
    """Resolve ``user_path`` inside ``root`` or raise ``CoSimError(400)``.

    Absolute paths, ``..`` escapes and symlinks that lead outside ``root`` are all rejected,
    because the check is made on the fully resolved path.
    """
    if not isinstance(user_path, str) or "\x00" in user_path:
        raise CoSimError(400, "path must be a string without NUL bytes")
    if Path(user_path).is_absolute():
        raise CoSimError(400, f"path must be relative to the workspace: {user_path!r}")
    base = Path(root).resolve()
    target = (base / user_path).resolve()
    if target != base and base not in target.parents:
        raise CoSimError(400, f"path leaves the workspace: {user_path!r}")
    return target


def write_json_error(handler: web.RequestHandler, status_code: int, exc_info: Any) -> None:
    """Finish ``handler`` with ``{"message", "reason"}``: a short text, never a traceback."""
    exc = exc_info[1] if exc_info else None
    details: dict[str, Any] = {}
    if isinstance(exc, CoSimError):
        message, details = exc.message, exc.details
    elif isinstance(exc, web.HTTPError):
        message = exc.log_message or HTTPStatus(status_code).phrase
    else:
        # Unexpected: the traceback goes to the server log (tornado logged it), not the user.
        message = "internal error in CoSim; see the server log"
    handler.set_header("Content-Type", "application/json")
    handler.finish(json.dumps({**details, "message": message, "reason": handler._reason}))


class CoSimHandler(PermissionMixin, APIHandler):
    """Base for CoSim REST handlers.

    Authentication and authorization are enforced once here, in ``prepare``, for every verb, so
    a subclass cannot forget them. Errors are JSON ``{"message", "reason"}`` without tracebacks.
    """

    async def prepare(self) -> None:  # type: ignore[override]
        await super().prepare()
        await self.check_permission(action_for(self.request.method))

    @property
    def cosim(self) -> CoSimContext:
        return self.settings["cosim"]

    def confine(self, user_path: str) -> Path:
        """A user-given path resolved inside the server's root directory, or a 400."""
        return confine_path(self.settings["server_root_dir"], user_path)

    def read_json_body(self) -> Any:
        """The request body as JSON, or a 400 that says what is wrong with it."""
        try:
            return json.loads(self.request.body or b"null")
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise CoSimError(400, f"request body is not valid JSON: {err}") from None

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        write_json_error(self, status_code, kwargs.get("exc_info"))


class CoSimWebSocketHandler(PermissionMixin, WebSocketMixin, WebSocketHandler, JupyterHandler):
    """Base for CoSim WebSockets: auth and authorization before the upgrade (403, never a
    redirect), Jupyter's origin check (WebSocketMixin), and ``pre_upgrade`` for subclasses to
    refuse with a 4xx while it is still HTTP.

    ``action`` is the permission the upgrade needs: "write" unless a subclass only streams data
    to the client and says so with ``action = "read"`` (a socket that runs, stops or changes
    anything acts, so a new socket is checked as acting until it declares otherwise)."""

    action = "write"

    async def get(self, *args: Any, **kwargs: Any) -> None:
        await self.check_permission(self.action)
        # Origin first, so a foreign page learns nothing (not even whether a sim exists).
        origin = self.request.headers.get("Origin")
        if origin is not None and not self.check_origin(origin):
            raise web.HTTPError(403, "cross-origin WebSocket refused")
        await self.pre_upgrade(*args, **kwargs)
        upgrade: Any = super().get(*args, **kwargs)
        if upgrade is not None:
            await upgrade

    async def pre_upgrade(self, *args: Any, **kwargs: Any) -> None:
        """Validate the request; raise ``CoSimError`` to refuse it before the upgrade."""

    @property
    def cosim(self) -> CoSimContext:
        return self.settings["cosim"]

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        write_json_error(self, status_code, kwargs.get("exc_info"))
