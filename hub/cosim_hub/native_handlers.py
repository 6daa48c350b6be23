"""NativeAuthenticator's admin pages with every state change on POST.

Upstream, ``GET /hub/authorize/<name>`` toggles an account's approval and
``GET /hub/discard/<name>`` deletes one, so a link on any site, clicked by a logged-in admin,
approved an attacker's account.
Here those routes change state only on POST, which the hub refuses without its XSRF token (only
the hub's own pages have it); a GET answers 405 and changes nothing. Approval is set, not toggled,
so a replayed request cannot undo it.
"""

from __future__ import annotations

import os
from typing import Any

from jinja2 import ChoiceLoader, FileSystemLoader
from jupyterhub.handlers import BaseHandler
from jupyterhub.scopes import needs_scope
from nativeauthenticator.orm import UserInfo
from tornado import web

TEMPLATE_DIR = os.path.join(os.path.dirname(__file__), "templates")
AREA_TEMPLATE = "cosim-authorization-area.html"
TRUE_WORDS = ("1", "true", "yes", "on")

admin_users_scope = needs_scope("admin:users")


class _PostOnlyBase(BaseHandler):
    """Hub handler that serves CoSim's templates; GET of a state-changing route is refused."""

    _loader_added = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not _PostOnlyBase._loader_added:
            env = self.settings["jinja2_env"]
            env.loader = ChoiceLoader([FileSystemLoader([TEMPLATE_DIR]), env.loader])
            _PostOnlyBase._loader_added = True

    def _refuse_get(self) -> None:
        raise web.HTTPError(405, "This action changes state: use the buttons on /hub/authorize")


class _SignUpAction(_PostOnlyBase):
    """POST-only action on one sign-up, /hub/<action>/<name>; a GET is refused."""

    async def get(self, name: str) -> None:
        self._refuse_get()

    def _sign_up(self, name: str) -> UserInfo:
        info = UserInfo.find(self.db, name)
        if info is None:
            raise web.HTTPError(404, f"No sign-up named {name!r}")
        return info


class AuthorizationAreaHandler(_PostOnlyBase):
    """/hub/authorize: the list of sign-ups with POST forms (carrying _xsrf) for each action."""

    @admin_users_scope
    async def get(self) -> None:
        html = await self.render_template(
            AREA_TEMPLATE,
            ask_email=self.authenticator.ask_email_on_signup,
            users=self.db.query(UserInfo).order_by(UserInfo.username).all(),
        )
        self.finish(html)


class ApprovalHandler(_SignUpAction):
    """POST /hub/authorize/<name> with ``approve=1`` (default) or ``approve=0``."""

    @admin_users_scope
    async def post(self, name: str) -> None:
        info = self._sign_up(name)
        approve = self.get_body_argument("approve", "1").strip().lower() in TRUE_WORDS
        info.is_authorized = approve
        self.db.commit()
        verb = "approved" if approve else "unapproved"
        self.log.info("%s %s %s", self.current_user.name, verb, name)
        self.redirect(f"{self.hub.base_url}authorize#{name}", status=303)


class DiscardHandler(_SignUpAction):
    """POST /hub/discard/<name>: delete a sign-up that is not approved."""

    @admin_users_scope
    async def post(self, name: str) -> None:
        info = self._sign_up(name)
        if info.is_authorized:
            raise web.HTTPError(409, f"{name} is approved: unapprove before discarding")
        self.authenticator.delete_user(type("User", (), {"name": name}))
        if self.users.get(name) is not None:
            self.users.delete(name)
        self.log.info("%s discarded the sign-up of %s", self.current_user.name, name)
        self.redirect(f"{self.hub.base_url}authorize", status=303)


# Routes replaced in NativeAuthenticator.get_handlers(); the others (login, signup, password
# changes) already change state only on POST, which the hub guards with its XSRF check.
REPLACED_ROUTES: dict[str, type[BaseHandler]] = {
    r"/authorize": AuthorizationAreaHandler,
    r"/authorize/([^/]*)": ApprovalHandler,
    r"/discard/([^/]*)": DiscardHandler,
}


def post_only_handlers(handlers: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """``handlers`` with the state-changing GET routes swapped for CoSim's POST-only ones."""
    return [(route, REPLACED_ROUTES.get(route, handler)) for route, handler in handlers]
