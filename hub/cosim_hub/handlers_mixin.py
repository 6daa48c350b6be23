"""What every CoSim authenticator adds to the hub: CoSim's own hub pages and API routes."""

from __future__ import annotations

from typing import Any

COURSES_SETTING = "cosim_courses_file"
COURSE_CREATORS_SETTING = "cosim_course_creators_group"


def courses_file(app: Any) -> str:
    """The course store path that ``configure(c)`` put in the hub's tornado settings."""
    settings = getattr(app, "tornado_settings", None) or {}
    return str(settings.get(COURSES_SETTING, ""))


class CoSimHandlersMixin:
    """Mix into an Authenticator (first base) to serve CoSim's hub routes (courses)."""

    parent: Any

    def get_handlers(self, app: Any) -> list[tuple[str, Any]]:
        from .courses.hub_api import course_handlers
        from .courses.setup_pages import setup_page_handlers

        base: list[tuple[str, Any]] = super().get_handlers(app)  # type: ignore[misc]
        return [*base, *course_handlers(), *setup_page_handlers()]

    def course_groups(self, name: str) -> set[str]:
        """Hub groups ``name`` belongs to as a student of a CoSim course."""
        from .courses.store import CourseStore

        path = courses_file(self.parent)
        return CourseStore(path).groups_of(name) if path else set()
