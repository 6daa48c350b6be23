"""Local accounts: NativeAuthenticator with an initial admin whose password CoSim sets."""

from __future__ import annotations

import os

from nativeauthenticator import NativeAuthenticator
from traitlets import Unicode, default

from .handlers_mixin import CoSimHandlersMixin

ADMIN_PASSWORD_ENV = "COSIM_ADMIN_PASSWORD"


class CoSimNativeAuthenticator(CoSimHandlersMixin, NativeAuthenticator):
    """Sign-up with admin approval; the first admin exists from the start.

    When ``initial_admin_password`` is set, the first admin user is created (pre-approved) with
    it, or has their password reset to it, each time the hub starts.
    """

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
