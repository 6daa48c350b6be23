"""configure(c) as a table: config in, hub settings out. Pure: nothing is started."""

from __future__ import annotations

from pathlib import Path

import pytest
from traitlets import TraitError
from traitlets.config import Config

from cosim_hub import configure
from cosim_hub.spawner import unix_account_name


def _config(tmp_path: Path, **cosim: object) -> Config:
    c = Config()
    c.CoSimHub.state_dir = str(tmp_path)
    for key, value in cosim.items():
        c.CoSimHub[key] = value
    return c


def test_local_defaults(tmp_path: Path) -> None:
    c = _config(tmp_path, redis_url="redis://127.0.0.1:1/0")
    configure(c)
    assert c.JupyterHub.spawner_class == "cosim_hub.spawner.CoSimLocalSpawner"
    assert c.JupyterHub.authenticator_class == "cosim_hub.auth.CoSimNativeAuthenticator"
    assert c.JupyterHub.db_url == f"sqlite:///{tmp_path}/hub/jupyterhub.sqlite"
    assert c.Spawner.environment["REDIS_URL"] == "redis://127.0.0.1:1/0"
    assert c.Spawner.environment["COSIM_COURSES_URL"].endswith("/services/cosim-courses/")
    assert c.Spawner.default_url == "/lab"
    assert c.CoSimLocalSpawner.homes_dir == str(tmp_path / "users")
    assert c.Authenticator.admin_users == {"admin"}
    assert (tmp_path / "hub").stat().st_mode & 0o777 == 0o700


@pytest.mark.parametrize(
    "cosim, expected",
    [
        ({"spawner": "kubernetes"}, {"spawner_class": "kubespawner.KubeSpawner"}),
        (
            {"authenticator": "oidc"},
            {"authenticator_class": "cosim_hub.oidc.CoSimOIDCAuthenticator"},
        ),
        ({"bind_url": "http://0.0.0.0:9000/"}, {"bind_url": "http://0.0.0.0:9000/"}),
        ({"hub_port": 9081}, {"hub_port": 9081, "hub_ip": "127.0.0.1"}),
    ],
)
def test_choices_map_to_hub_settings(
    tmp_path: Path, cosim: dict[str, object], expected: dict[str, object]
) -> None:
    c = _config(tmp_path, **cosim)
    configure(c)
    for key, value in expected.items():
        assert c.JupyterHub[key] == value


def test_existing_settings_win(tmp_path: Path) -> None:
    """A z2jh deployment sets its own database and environment; configure must keep them."""
    c = _config(tmp_path, redis_url="redis://redis:6379/0", spawner="kubernetes")
    c.JupyterHub.db_url = "sqlite:///srv/jupyterhub/jupyterhub.sqlite"
    c.Spawner.environment = {"REDIS_URL": "redis://managed:6379/1", "OTHER": "1"}
    c.Spawner.default_url = "/tree"
    configure(c)
    assert c.JupyterHub.db_url == "sqlite:///srv/jupyterhub/jupyterhub.sqlite"
    assert c.Spawner.environment["REDIS_URL"] == "redis://managed:6379/1"
    assert c.Spawner.environment["OTHER"] == "1"
    assert c.Spawner.default_url == "/tree"


@pytest.mark.parametrize(
    "cosim",
    [
        {"spawner": "docker"},
        {"authenticator": "pam"},
        {"bind_url": "0.0.0.0:8000"},
        {"hub_port": 70000},
        {"datasets": {"../etc": "/srv/datasets/x"}},
        {"datasets": {"x y": "/srv/datasets/x"}},
        {"datasets": {"tum": "relative/folder"}},
    ],
)
def test_bad_values_fail_at_start(tmp_path: Path, cosim: dict[str, object]) -> None:
    with pytest.raises(TraitError):
        configure(_config(tmp_path, **cosim))


def test_datasets_reach_the_local_spawner(tmp_path: Path) -> None:
    datasets = {"tum-fr1-xyz": "/srv/datasets/fr1_xyz/", "kitti.00": "/srv/kitti"}
    c = _config(tmp_path, datasets=datasets)
    configure(c)
    assert c.CoSimLocalSpawner.datasets == {
        "tum-fr1-xyz": "/srv/datasets/fr1_xyz",
        "kitti.00": "/srv/kitti",
    }


@pytest.mark.parametrize(
    "hub_name, expected",
    [
        ("alice", "cosim-alice"),
        ("bob_2", "cosim-bob_2"),
    ],
)
def test_account_names_keep_simple_names(hub_name: str, expected: str) -> None:
    assert unix_account_name("cosim-", hub_name) == expected


@pytest.mark.parametrize("hub_name", ["Alice", "a.b@example.org", "x" * 40, "émile", "A", "a"])
def test_account_names_are_valid_and_distinct(hub_name: str) -> None:
    name = unix_account_name("cosim-", hub_name)
    assert len(name) <= 32
    assert all(ch.isascii() and (ch.isalnum() or ch in "-_") for ch in name)
    assert name == name.lower()


def test_account_names_never_collide_after_cleaning() -> None:
    names = {unix_account_name("cosim-", n) for n in ["Alice", "alice", "a.b", "a-b", "A"]}
    assert len(names) == 5


@pytest.mark.parametrize("allow", [True, False])
def test_sharing_scopes_follow_allow_sharing(tmp_path: Path, allow: bool) -> None:
    c = _config(tmp_path, allow_sharing=allow)
    configure(c)
    user_role = next(r for r in c.JupyterHub.load_roles if r["name"] == "user")
    sharing = {"shares!user", "read:users:name", "list:users", "custom:cosim:view!user"}
    assert sharing <= set(user_role["scopes"]) if allow else not sharing & set(user_role["scopes"])
    assert ("shares!user" in c.Spawner.server_token_scopes) is allow
    assert ("custom:cosim:view" in c.JupyterHub.custom_scopes) is allow
