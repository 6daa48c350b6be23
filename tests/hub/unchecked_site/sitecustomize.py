"""Test only: with this folder on PYTHONPATH, every CoSim handler served by a tornado
Application in the process (the hub, the cost guard, the course exchange) loses its
authorization checks: the scope and login decorators on its verbs, its own ``prepare`` and the
checks named in ``CHECKS``. A verb whose body then fails for want of a caller (no user to read
scopes from) answers 200 "reached without a check": it ran for anyone, which is what the
enumeration must notice, and the hub's start-up probe of a service gets an answer. Every answer
of a stripped verb carries ``REACHED_HEADER``.

``tests/hub/test_hub_routes_auth.py`` starts two ``cosim up`` with it, one with local accounts
and one with OpenID Connect login, to show that the route enumeration reports every handler whose
check is gone. Never on an installation's path.
"""

from __future__ import annotations

import functools
import sys
from typing import Any

VERBS = ("get", "post", "put", "patch", "delete")
# On every answer of a stripped verb (errors included): the handler class the request reached,
# so the test can tell "let through by this handler" from "no such route".
REACHED_HEADER = "X-CoSim-Unchecked"
# Checks that handlers call rather than wear as decorators: (module, attribute path, stand-in).
CHECKS = [
    ("cosim_hub.courses.hub_api", "_require_user", lambda *args: None),
    ("cosim_hub.courses.hub_api", "_CourseMixin._is_admin", lambda self: True),
    ("cosim_hub.courses.setup_pages", "_require_user", lambda *args: None),
    ("cosim_hub.courses.setup_pages", "_SetupBase._course_for_instructor", lambda *args: None),
    ("cosim_hub.oidc_handlers", "ProviderTokenHandler._check_reader", lambda *args: None),
]


def _ours(cls: type) -> bool:
    # The course exchange runs as ``python -m``, so its handlers live in __main__.
    return cls.__module__ == "__main__" or cls.__module__.startswith("cosim_hub")


def _unwrapped(func: Any) -> Any:
    while hasattr(func, "__wrapped__"):
        func = func.__wrapped__
    return func


async def _no_prepare(self: Any) -> None:
    return None


def _mark(self: Any) -> None:
    self.set_header(REACHED_HEADER, type(self).__name__)


def _reached(func: Any) -> Any:
    from tornado import web

    @functools.wraps(func)
    async def verb(self: Any, *args: Any, **kwargs: Any) -> None:
        self._cosim_reached = True
        _mark(self)
        try:
            result = func(self, *args, **kwargs)
            if result is not None and hasattr(result, "__await__"):
                await result
        except web.HTTPError:
            raise
        except Exception as err:  # the body needs a caller it no longer checked for
            self.clear()
            self.set_status(200)
            self.finish(f"reached {type(self).__name__} without a check ({err!r})")

    return verb


def _keep_mark(original: Any) -> Any:
    """``set_default_headers`` that puts the mark back after ``clear()`` (an error page)."""

    @functools.wraps(original)
    def set_default_headers(self: Any) -> None:
        original(self)
        if getattr(self, "_cosim_reached", False):
            _mark(self)

    set_default_headers._cosim_keeps_mark = True  # type: ignore[attr-defined]
    return set_default_headers


def strip_checks(cls: type) -> None:
    if not getattr(cls.set_default_headers, "_cosim_keeps_mark", False):  # type: ignore[attr-defined]
        cls.set_default_headers = _keep_mark(cls.set_default_headers)  # type: ignore[attr-defined]
    for name in VERBS:
        method = getattr(cls, name)
        if not method.__qualname__.startswith("RequestHandler."):  # tornado's 405 stubs
            setattr(cls, name, _reached(_unwrapped(method)))
    if any(_ours(k) and "prepare" in vars(k) for k in cls.__mro__):
        cls.prepare = _no_prepare  # type: ignore[attr-defined]
    for module, path, stand_in in CHECKS:
        if module in sys.modules:
            owner: Any = sys.modules[module]
            *parents, name = path.split(".")
            for parent in parents:
                owner = getattr(owner, parent)
            setattr(owner, name, stand_in)


def _install() -> None:
    from tornado import web

    original = web.Application.__init__

    @functools.wraps(original)
    def init(self: Any, handlers: Any = None, *args: Any, **kwargs: Any) -> None:
        for spec in handlers or []:
            target = spec[1] if isinstance(spec, tuple | list) else getattr(spec, "target", None)
            if isinstance(target, type) and _ours(target):
                strip_checks(target)
        original(self, handlers, *args, **kwargs)

    web.Application.__init__ = init  # type: ignore[method-assign]


_install()
