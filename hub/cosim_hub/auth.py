"""Local accounts: NativeAuthenticator with an initial admin whose password CoSim sets."""

from __future__ import annotations

import os
from typing import Any

from nativeauthenticator import NativeAuthenticator
from traitlets import Integer, Unicode, default

from .handlers_mixin import CoSimHandlersMixin
from .native_handlers import post_only_handlers

ADMIN_PASSWORD_ENV = "COSIM_ADMIN_PASSWORD"


class CoSimNativeAuthenticator(CoSimHandlersMixin, NativeAuthenticator):
    """Sign-up with admin approval; the first admin exists from the start.

    When ``initial_admin_password`` is set, the first admin user is created (pre-approved) with
    it, or has their password reset to it, each time the hub starts.

    Unlike NativeAuthenticator's own defaults, passwords have a minimum length and repeated
    failed logins lock the account for a while; approval and discard happen only by POST.
    """

    minimum_password_length = Integer(
        10,
        help="""Shortest password accepted at sign-up and password change (characters).
        NativeAuthenticator's own default is 1.""",
    ).tag(config=True)

    allowed_failed_logins = Integer(
        5,
        help="""Failed logins in a row after which an account is locked for
        seconds_before_next_try seconds (correct passwords included). 0 turns throttling off.""",
    ).tag(config=True)

    seconds_before_next_try = Integer(
        120,
        help="How long (seconds) an account stays locked after allowed_failed_logins failures.",
    ).tag(config=True)

    initial_admin_password = Unicode(
        help=f"Password for the first name in admin_users. Default: ${ADMIN_PASSWORD_ENV}; "
        "empty leaves the admin account as it is.",
    ).tag(config=True)

    initial_admin = Unicode(
        help="The admin account CoSim creates (default: the first of admin_users, sorted).",
    ).tag(config=True)

    @default("initial_admin")
    def _default_initial_admin(self) -> str:
        return sorted(self.admin_users)[0] if self.admin_users else ""

    @default("initial_admin_password")
    def _default_password(self) -> str:
        return os.environ.get(ADMIN_PASSWORD_ENV, "")

    def get_handlers(self, app: Any) -> list[tuple[str, Any]]:
        return post_only_handlers(super().get_handlers(app))

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self._seed_admin()

    def _seed_admin(self) -> None:
        password = self.initial_admin_password
        name = self.initial_admin
        if not password or not name:
            return
        if self.user_exists(name):
            self.change_password(name, password)
        else:
            if self.create_user(name, password) is None:
                raise ValueError(f"could not create admin user {name!r} (invalid name or password)")
        self.log.info("CoSim admin account %r is ready", name)
