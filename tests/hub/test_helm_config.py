"""helm-config/: the z2jh values overlay, run the way the chart runs it, and its manifests
validated against the Kubernetes schema. No cluster: KubeSpawner renders pods locally."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from jupyterhub.objects import Hub
from kubernetes_asyncio.client import ApiClient
from test_kube_manifests import _kubeconfig, _User  # noqa: F401 (fixture reused)
from traitlets.config import Config

from cosim_hub.profiles import load_profiles

HELM = Path(__file__).resolve().parents[2] / "helm-config"
K8S = "1.30"
PROFILES = load_profiles()


def _load(name: str) -> Any:
    return yaml.safe_load((HELM / name).read_text())


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Helm's merge of --values files: maps merge, everything else is replaced."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _validate(manifest: dict[str, Any]) -> None:
    kubernetes_validate.validate(manifest, K8S, strict=True)


def test_every_yaml_file_parses() -> None:
    files = sorted(HELM.rglob("*.yaml"))
    assert {f.name for f in files} >= {"values.yaml", "values-oidc.yaml", "redis.yaml"}
    for path in files:
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
        assert docs, path


def test_redis_manifests_validate() -> None:
    docs = list(yaml.safe_load_all((HELM / "manifests" / "redis.yaml").read_text()))
    assert {d["kind"] for d in docs} == {
        "Deployment",
        "Service",
        "PersistentVolumeClaim",
        "NetworkPolicy",
    }
    for doc in docs:
        _validate(doc)
    policy = next(d for d in docs if d["kind"] == "NetworkPolicy")
    sources = [p["podSelector"]["matchLabels"] for p in policy["spec"]["ingress"][0]["from"]]
    assert sources == [{"component": "hub"}, {"component": "singleuser-server"}]


def test_a_broken_network_policy_fails_validation() -> None:
    """The schema check can fail: a port given as a list is refused."""
    bad = _policy("x", {"component": "hub"}, [{"ports": [{"port": [1]}]}], [])
    with pytest.raises(kubernetes_validate.ValidationError):
        _validate(bad)


def _policy(
    name: str, pods: dict[str, str], ingress: list[Any], egress: list[Any]
) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name},
        "spec": {
            "podSelector": {"matchLabels": pods},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": ingress,
            "egress": egress,
        },
    }


def test_network_policies_keep_user_servers_apart() -> None:
    values = _load("values.yaml")
    single = values["singleuser"]["networkPolicy"]
    assert single["enabled"] and single["allowedIngressPorts"] == []
    assert single["egressAllowRules"]["privateIPs"] is False  # no path to other pods' IPs
    # The chart's own singleuser ingress: only pods labelled for it (the proxy and the hub).
    chart_ingress = [
        {"from": [{"podSelector": {"matchLabels": {
            "hub.jupyter.org/network-access-singleuser": "true"}}}]}
    ]  # fmt: skip
    user_policy = _policy("singleuser", {"component": "singleuser-server"}, chart_ingress,
                          single["egress"])  # fmt: skip
    _validate(user_policy)
    targets = [r["to"][0]["podSelector"]["matchLabels"] for r in single["egress"]]
    assert {"app.kubernetes.io/name": "cosim-redis"} in targets
    assert {"component": "hub"} in targets
    assert {"component": "singleuser-server"} not in targets

    hub = values["hub"]["networkPolicy"]
    _validate(_policy("hub", {"component": "hub"}, hub["ingress"], hub["egress"]))
    ports = [p["port"] for rule in hub["ingress"] for p in rule["ports"]]
    config = values["hub"]["config"]
    assert ports == [config["CoSimCourses"]["service_port"], config["CoSimCostGuard"]["port"]]
    # The proxy (usage page) and user servers (their own spend, token-checked by the service)
    # reach the cost guard; nothing else does. User servers may leave for those two ports.
    guard_rule = next(r for r in hub["ingress"] if r["ports"][0]["port"] == ports[1])
    assert guard_rule["from"] == [
        {"podSelector": {"matchLabels": {"component": "proxy"}}},
        {"podSelector": {"matchLabels": {"component": "singleuser-server"}}},
    ]
    to_hub = next(r for r in single["egress"] if r["to"][0]["podSelector"]["matchLabels"] == {
        "component": "hub"})  # fmt: skip
    assert {p["port"] for p in to_hub["ports"]} == {8081, *ports}


def _hub_config(values: dict[str, Any]) -> Config:
    """What the chart's jupyterhub_config.py does before hub.extraConfig: hub.config -> c."""
    c = Config()
    for section, settings in values["hub"]["config"].items():
        for key, value in settings.items():
            c[section][key] = value
    c.JupyterHub.spawner_class = "kubespawner.KubeSpawner"
    c.JupyterHub.db_url = "sqlite:///jupyterhub.sqlite"
    return c


def _run_extra_config(values: dict[str, Any], tmp_path: Path, monkeypatch: Any) -> Config:
    env = values["hub"]["extraEnv"]
    assert env["COSIM_STATE_DIR"].startswith("/srv/jupyterhub")  # on the hub's PVC
    monkeypatch.setenv("COSIM_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("REDIS_URL", "redis://:secret@cosim-redis:6379/0")
    c = _hub_config(values)
    for snippet in values["hub"]["extraConfig"].values():
        exec(compile(snippet, "hub.extraConfig", "exec"), {"c": c, "os": os})
    return c


def test_hub_extra_config_runs_configure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    values = _load("values.yaml")
    c = _run_extra_config(values, tmp_path, monkeypatch)
    assert c.JupyterHub.authenticator_class == "cosim_hub.auth.CoSimNativeAuthenticator"
    assert c.JupyterHub.spawner_class == "kubespawner.KubeSpawner"
    assert c.Spawner.environment["REDIS_URL"] == "redis://:secret@cosim-redis:6379/0"
    assert c.Spawner.environment["COSIM_COURSES_URL"] == "http://hub:10101/services/cosim-courses/"
    courses = next(s for s in c.JupyterHub.services if s["name"] == "cosim-courses")
    assert courses["url"] == "http://hub:10101"
    assert courses["environment"]["COSIM_EXCHANGE_BIND"] == "0.0.0.0"
    # The proxy runs in its own pod: it reaches the cost guard through the hub's Service.
    guard = next(s for s in c.JupyterHub.services if s["name"] == "cosim-costguard")
    assert guard["url"] == "http://hub:10102"
    # User servers ask it for their own spend (the Lab banner) through the hub's Service too.
    assert (
        c.Spawner.environment["COSIM_COSTGUARD_URL"] == "http://hub:10102/services/cosim-costguard/"
    )
    assert json.loads(guard["environment"]["COSIM_COSTGUARD_SETTINGS"])["service_bind"] == "0.0.0.0"
    ports = [p["port"] for p in values["hub"]["service"]["extraPorts"]]
    assert {10101, 10102} <= set(ports)

    # Every profile of profiles.toml reaches KubeSpawner (for a user in every group).
    from kubespawner import KubeSpawner

    async def slugs() -> list[str]:
        groups = sorted({g for p in PROFILES for g in p.groups})
        spawner = KubeSpawner(_mock=True, user=_User("ada", groups), hub=Hub())
        return [entry["slug"] for entry in c.KubeSpawner.profile_list(spawner)]

    assert asyncio.run(slugs()) == [p.name for p in PROFILES]


def test_oidc_overlay_switches_login(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    values = _merge(_load("values.yaml"), _load("values-oidc.yaml"))
    c = _run_extra_config(values, tmp_path, monkeypatch)
    assert c.JupyterHub.authenticator_class == "cosim_hub.oidc.CoSimOIDCAuthenticator"
    assert c.Authenticator.enable_auth_state is True
    oidc = c.CoSimOIDCAuthenticator
    assert oidc.discovery_url.endswith("/.well-known/openid-configuration")
    assert "offline_access" in oidc.scope  # providers hand out refresh tokens only then
    env = values["hub"]["extraEnv"]
    # Secrets come from Kubernetes secrets, never from the values file.
    assert env["OAUTH_CLIENT_SECRET"]["valueFrom"]["secretKeyRef"]["name"] == "cosim-oidc"
    assert env["JUPYTERHUB_CRYPT_KEY"]["valueFrom"]["secretKeyRef"]["name"] == "cosim-oidc"
    assert "client_secret" not in oidc


def _kube_env(extra_env: dict[str, Any]) -> dict[str, Any]:
    return {k: v if isinstance(v, dict) else str(v) for k, v in extra_env.items()}


def _user_pod(values: dict[str, Any], profile: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The pod and PVC that KubeSpawner builds with the chart's singleuser settings."""
    from kubespawner import KubeSpawner

    from cosim_hub.costguard.config import kubespawner_profiles_for_user

    single = values["singleuser"]
    storage = single["storage"]

    async def build() -> tuple[dict[str, Any], dict[str, Any]]:
        spawner = KubeSpawner(_mock=True, user=_User("ada", ["research"]), hub=Hub())
        spawner.image = f"{single['image']['name']}:{single['image']['tag']}"
        spawner.image_pull_policy = single["image"]["pullPolicy"]
        spawner.image_pull_secrets = single["image"]["pullSecrets"]
        spawner.environment = _kube_env(single["extraEnv"])
        spawner.storage_pvc_ensure = True
        spawner.storage_capacity = storage["capacity"]
        spawner.storage_class = storage["dynamic"]["storageClass"]
        spawner.storage_access_modes = storage["dynamic"]["storageAccessModes"]
        # The chart's home volume, then storage.extraVolumes/extraVolumeMounts (the datasets).
        home = {"name": "home", "persistentVolumeClaim": {"claimName": "claim-ada"}}
        spawner.volumes = [home, *storage.get("extraVolumes", [])]
        spawner.volume_mounts = [
            {"name": "home", "mountPath": storage["homeMountPath"]},
            *storage.get("extraVolumeMounts", []),
        ]
        spawner.profile_list = kubespawner_profiles_for_user(PROFILES)
        spawner.user_options = {"profile": profile}
        await spawner.load_user_options()
        client = ApiClient()
        pod = client.sanitize_for_serialization(await spawner.get_pod_manifest())
        pvc = client.sanitize_for_serialization(spawner.get_pvc_manifest())
        return dict(pod), dict(pvc)

    return asyncio.run(build())


@pytest.mark.parametrize("profile", [p.name for p in PROFILES])
def test_user_pods_and_storage_validate(profile: str) -> None:
    values = _load("values.yaml")
    pod, pvc = _user_pod(values, profile)
    pod.update(apiVersion="v1", kind="Pod")
    pvc.update(apiVersion="v1", kind="PersistentVolumeClaim")
    _validate(pod)
    _validate(pvc)
    container = pod["spec"]["containers"][0]
    assert container["image"] == "ghcr.io/cosim/cosim-singleuser:0.1.0"
    assert pod["spec"]["imagePullSecrets"] == [{"name": "cosim-registry"}]
    env = {e["name"]: e for e in container["env"]}
    assert env["REDIS_URL"]["valueFrom"]["secretKeyRef"]["name"] == "cosim-redis"
    assert container["volumeMounts"][0]["mountPath"] == "/home/jovyan"
    assert pvc["spec"]["resources"]["requests"]["storage"] == "10Gi"


def test_dockerfiles_build_from_this_repo() -> None:
    for name in ("singleuser.Dockerfile", "hub.Dockerfile"):
        text = (HELM / "images" / name).read_text()
        assert "COPY . " in text and "pip install" in text
        assert text.splitlines()[0].startswith("#")
    values = _load("values.yaml")
    assert "cosim-singleuser" in values["singleuser"]["image"]["name"]
    assert "cosim-hub" in values["hub"]["image"]["name"]
    assert values["cull"]["enabled"] is True


def test_user_image_has_the_cpp_toolchain_the_makefile_installs() -> None:
    """The C++ kernel needs the same compilers and debuggers on Kubernetes as on `cosim up`."""
    makefile = (HELM.parent / "Makefile").read_text()
    toolchain = next(
        line.split("+=", 1)[1].split()
        for line in makefile.splitlines()
        if line.startswith("APT_RUN +=") and "g++" in line
    )
    assert {"g++", "clang", "gdb", "lldb", "clangd"} <= set(toolchain)
    dockerfile = (HELM / "images" / "singleuser.Dockerfile").read_text()
    apt = " ".join(
        chunk for chunk in dockerfile.split("RUN ") if "apt-get install" in chunk
    ).split()
    missing = [p for p in toolchain if p not in apt]
    assert not missing, f"singleuser.Dockerfile lacks {missing}"
    # EGL on the pod's GPU needs the driver's graphics capability.
    assert "NVIDIA_DRIVER_CAPABILITIES=compute,utility,graphics" in dockerfile


def test_datasets_are_read_only_volumes_in_user_pods() -> None:
    """Each dataset of COSIM_DATASETS is a ReadOnlyMany claim, mounted read-only (volume and
    mount) at ~/datasets/<name> of every user pod; the claims validate."""
    values = _load("values.yaml")
    raw = values["singleuser"]["extraEnv"]["COSIM_DATASETS"]  # KubeSpawner expands {{ }}
    declared = json.loads(raw.replace("{{", "{").replace("}}", "}"))
    assert declared
    pod, _ = _user_pod(values, PROFILES[0].name)
    pod.update(apiVersion="v1", kind="Pod")
    _validate(pod)
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    mounts = {m["mountPath"]: m for m in pod["spec"]["containers"][0]["volumeMounts"]}
    env = {e["name"]: e.get("value") for e in pod["spec"]["containers"][0]["env"]}
    assert json.loads(env["COSIM_DATASETS"]) == declared
    claims = {d["metadata"]["name"]: d for d in yaml.safe_load_all(
        (HELM / "manifests" / "datasets.yaml").read_text())}  # fmt: skip
    for name, source in declared.items():
        mount = mounts[f"/home/jovyan/datasets/{name}"]
        assert mount["readOnly"] is True, name
        claim = volumes[mount["name"]]["persistentVolumeClaim"]
        assert claim["readOnly"] is True, name
        assert source == f"pvc/{claim['claimName']}"
        pvc = claims[claim["claimName"]]
        _validate(pvc)
        assert pvc["spec"]["accessModes"] == ["ReadOnlyMany"]
