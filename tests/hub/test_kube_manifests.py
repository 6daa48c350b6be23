"""The pod KubeSpawner would submit for each profile, validated against the Kubernetes schema.

No cluster is needed: KubeSpawner builds manifests locally (``_mock=True``). It insists on a
kube-config at construction, so the tests give it one that points nowhere (nothing is sent).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
from jupyterhub.objects import Hub
from kubernetes_asyncio.client import ApiClient

from cosim_hub.costguard.config import kubespawner_profiles_for_user
from cosim_hub.profiles import Profile, load_profiles, parse_bytes, pod_resources

KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{name: none, cluster: {server: "https://127.0.0.1:9"}}]
contexts: [{name: none, context: {cluster: none, user: none}}]
current-context: none
users: [{name: none, user: {token: none}}]
"""
PROFILES = load_profiles()


@pytest.fixture(autouse=True)
def _kubeconfig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    path = tmp_path / "kubeconfig"
    path.write_text(KUBECONFIG)
    # The client read $KUBECONFIG when it was imported; point its default at our file instead.
    from kubernetes_asyncio.config import kube_config

    monkeypatch.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(path))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    yield


class _Group:
    def __init__(self, name: str) -> None:
        self.name = name


class _User:
    """The few attributes of a hub user that KubeSpawner reads."""

    def __init__(self, name: str, groups: list[str]) -> None:
        self.name = self.escaped_name = name
        self.id = 7
        self.url = f"/user/{name}/"
        self.admin = False
        self.groups = [_Group(g) for g in groups]
        self.settings: dict[str, Any] = {}


def pod_manifest(profile: str, groups: list[str]) -> dict[str, Any]:
    from kubespawner import KubeSpawner

    async def build() -> dict[str, Any]:
        user = _User("alice", groups)
        spawner = KubeSpawner(_mock=True, user=user, hub=Hub())
        # The same callable configure(c) sets for the kubernetes spawner.
        spawner.profile_list = kubespawner_profiles_for_user(PROFILES)
        spawner.user_options = {"profile": profile}
        await spawner.load_user_options()
        manifest = await spawner.get_pod_manifest()
        return dict(ApiClient().sanitize_for_serialization(manifest))

    return asyncio.run(build())


def _cores(quantity: str | float) -> float:
    text = str(quantity)
    return float(text[:-1]) / 1000 if text.endswith("m") else float(text)


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.name)
def test_every_profile_builds_a_valid_pod(profile: Profile) -> None:
    manifest = pod_manifest(profile.name, ["research"])
    manifest.setdefault("apiVersion", "v1")
    manifest.setdefault("kind", "Pod")
    kubernetes_validate.validate(manifest, "1.30", strict=True)

    spec = manifest["spec"]
    container = spec["containers"][0]
    expected = pod_resources(profile)
    for part in ("requests", "limits"):
        got = container["resources"][part]
        for key, value in expected[part].items():
            if key == "cpu":
                assert _cores(got[key]) == _cores(value)
            elif key == "memory":  # KubeSpawner writes bytes (G = 2**30, as CoSim reads it)
                assert int(got[key]) == parse_bytes(value)
            else:
                assert str(got[key]) == value, (part, key, got)
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["COSIM_PROFILE"] == profile.name
    assert manifest["metadata"]["labels"]["cosim.dev/profile"] == profile.name
    if profile.is_gpu:
        assert container["resources"]["limits"]["nvidia.com/gpu"] == str(profile.gpus)
        assert spec["nodeSelector"] == profile.node_selector
        tolerations = [t for t in spec["tolerations"] if t["key"] == "nvidia.com/gpu"]
        assert tolerations == [{"key": "nvidia.com/gpu", "operator": "Exists",
                                "effect": "NoSchedule"}]  # fmt: skip
    else:
        assert "nvidia.com/gpu" not in container["resources"]["limits"]
        assert not spec.get("nodeSelector")


def test_a_broken_manifest_fails_validation() -> None:
    """The validation above can fail: a pod with a malformed GPU limit does."""
    manifest = pod_manifest("gpu-small", [])
    manifest.update(apiVersion="v1", kind="Pod")
    manifest["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] = {"n": 1}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(manifest, "1.30", strict=True)


def test_profile_list_follows_groups() -> None:
    from kubespawner import KubeSpawner

    async def slugs(groups: list[str]) -> list[str]:
        spawner = KubeSpawner(_mock=True, user=_User("bob", groups), hub=Hub())
        entries = kubespawner_profiles_for_user(PROFILES)(spawner)
        return [e["slug"] for e in entries]

    assert asyncio.run(slugs([])) == ["cpu", "gpu-small"]
    assert asyncio.run(slugs(["research"])) == ["cpu", "gpu-small", "gpu-large"]
