"""spawn.py --phases: a login's browser timeline split into phases that add up to the figure."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from _spawn_phases import PHASES, Event, phases_of  # benchmarks/ is not a package

HUB = "http://cosim.localhost:35737"
SERVER = "http://ub.cosim.localhost:35737/user/ub"

# Trimmed from a recorded CoSim login (seconds after the submit); scripts and styles left out.
LOGIN: list[Event] = [
    (0.137, "request", "POST", f"{HUB}/hub/login?next=", "document"),
    (0.546, "answer 302", "POST", f"{HUB}/hub/login?next=", "document"),
    (0.546, "request", "GET", f"{HUB}/hub/spawn", "document"),
    (1.573, "answer 302", "GET", f"{HUB}/hub/spawn", "document"),
    (1.598, "answer 200", "GET", f"{HUB}/hub/spawn-pending/ub", "document"),
    (1.780, "answer 200", "GET", f"{HUB}/hub/api/users/ub/server/progress?_xsrf=x", "eventsource"),
    (6.663, "answer 302", "GET", f"{HUB}/hub/spawn-pending/ub", "document"),
    (6.664, "request", "GET", f"{SERVER}/", "document"),
    (6.668, "request", "GET", f"{SERVER}/lab?", "document"),
    (6.668, "answer 302", "GET", f"{SERVER}/lab?", "document"),
    (6.689, "answer 302", "GET", f"{HUB}/hub/api/oauth2/authorize?client_id=x", "document"),
    (6.750, "answer 302", "GET", f"{SERVER}/oauth_callback?code=x", "document"),
    (6.764, "answer 200", "GET", f"{SERVER}/lab", "document"),
    (8.155, "request", "GET", f"{SERVER}/api/kernelspecs?1", "fetch"),
    (8.156, "request", "GET", f"{SERVER}/cosim/api/costguard?1", "fetch"),
]


def test_phases_follow_the_browser_and_add_up_to_the_login() -> None:
    phases = phases_of(LOGIN, launcher_s=11.242)
    assert list(phases) == list(PHASES)
    assert phases == {
        "login": 0.546,
        "spawn": pytest.approx(1.027),
        "server": pytest.approx(5.091),
        "redirects": pytest.approx(0.1),
        "lab_load": pytest.approx(1.391),
        "lab_start": pytest.approx(3.087),
    }
    assert sum(phases.values()) == pytest.approx(11.242)


def test_a_profile_form_counts_its_post_in_the_spawn_phase() -> None:
    form = [
        (1.0, "answer 200", "GET", f"{HUB}/hub/spawn", "document"),
        (1.9, "answer 302", "POST", f"{HUB}/hub/spawn/ub", "document"),
    ]
    events = LOGIN[:3] + form + LOGIN[4:]
    assert phases_of(events, launcher_s=11.242)["spawn"] == pytest.approx(1.9 - 0.546)


def test_a_timeline_that_never_reached_the_server_says_so() -> None:
    with pytest.raises(RuntimeError, match="user"):
        phases_of(LOGIN[:6], launcher_s=30.0)
