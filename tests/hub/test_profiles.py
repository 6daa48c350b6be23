"""Profiles as data: loading, checks, and the pure mappings to KubeSpawner and local limits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cosim_hub.profiles import (
    Profile,
    ProfileError,
    find_profile,
    kubespawner_profile_list,
    load_profiles,
    local_limits,
    parse_bytes,
    pod_resources,
    profile_from_dict,
    profiles_for,
)


def test_packaged_defaults() -> None:
    profiles = load_profiles()
    names = [p.name for p in profiles]
    assert names == ["cpu", "gpu-small", "gpu-large"]
    assert find_profile(profiles, None).name == "cpu"
    gpu = find_profile(profiles, "gpu-small")
    assert gpu is not None and gpu.is_gpu and gpu.gpu_resource == "nvidia.com/gpu"
    assert find_profile(profiles, "nope") is None


@pytest.mark.parametrize(
    ("groups", "expected"),
    [
        ([], ["cpu", "gpu-small"]),
        (["students"], ["cpu", "gpu-small"]),
        (["research"], ["cpu", "gpu-small", "gpu-large"]),
    ],
)
def test_profiles_for_groups(groups: list[str], expected: list[str]) -> None:
    assert [p.name for p in profiles_for(load_profiles(), groups)] == expected


@pytest.mark.parametrize(
    ("profile_groups", "user_groups", "billing"),
    [
        (("*",), [], "default"),
        (("*",), ["b", "a"], "a"),
        (("research", "staff"), ["staff", "research", "x"], "research"),
        (("staff",), ["a", "staff"], "staff"),
    ],
)
def test_billing_group(
    profile_groups: tuple[str, ...], user_groups: list[str], billing: str
) -> None:
    profile = Profile(name="p", display_name="P", groups=profile_groups)
    assert profile.billing_group(user_groups) == billing


@pytest.mark.parametrize(
    ("text", "value"), [("512M", 512 * 1024**2), ("4G", 4 * 1024**3), ("1.5K", 1536), ("7", 7)]
)
def test_parse_bytes(text: str, value: int) -> None:
    assert parse_bytes(text) == value


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"name": "Bad Name"}, "'name' must be"),
        ({}, "'name' must be"),
        ({"name": "p", "cpu_limit": 1, "cpu_request": 2}, "cpu_request <= cpu_limit"),
        ({"name": "p", "mem_limit": "4X"}, "not a memory size"),
        ({"name": "p", "mem_request": "8G", "mem_limit": "4G"}, "mem_request <= mem_limit"),
        ({"name": "p", "gpus": 1.5}, "'gpus' must be a whole number"),
        ({"name": "p", "gpus": -1}, "gpus must be >= 0"),
        ({"name": "p", "price_per_hour": -1}, "price_per_hour must be >= 0"),
        ({"name": "p", "groups": "research"}, "'groups' must be a list"),
        ({"name": "p", "groups": []}, "at least one group"),
        ({"name": "p", "gpu": 1}, "unknown keys ['gpu']"),
    ],
)
def test_bad_profile_entries(entry: dict[str, Any], message: str) -> None:
    with pytest.raises(ProfileError, match="profile") as info:
        profile_from_dict(entry)
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no [[profile]] tables"),
        ("[[profile]\n", "not valid TOML"),
        ('[[profile]]\nname="a"\n[[profile]]\nname="a"\n', "duplicate names ['a']"),
        ('[[profile]]\nname="a"\ndefault=true\n[[profile]]\nname="b"\ndefault=true\n', "default"),
    ],
)
def test_bad_profile_files(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "profiles.toml"
    path.write_text(text)
    with pytest.raises(ProfileError) as info:
        load_profiles(path)
    assert message in str(info.value)
    with pytest.raises(ProfileError, match="cannot read"):
        load_profiles(tmp_path / "missing.toml")


def test_kubespawner_profile_list() -> None:
    entries = {e["slug"]: e for e in kubespawner_profile_list(load_profiles())}
    assert set(entries) == {"cpu", "gpu-small", "gpu-large"}
    assert entries["cpu"]["default"] is True
    assert "$0.05/h" in entries["cpu"]["display_name"]
    cpu = entries["cpu"]["kubespawner_override"]
    assert (cpu["cpu_guarantee"], cpu["cpu_limit"], cpu["mem_limit"]) == (0.5, 2.0, "4G")
    assert "extra_resource_limits" not in cpu and "node_selector" not in cpu
    gpu = entries["gpu-small"]["kubespawner_override"]
    assert gpu["extra_resource_limits"] == {"nvidia.com/gpu": "1"}
    assert gpu["extra_resource_guarantees"] == {"nvidia.com/gpu": "1"}
    assert gpu["node_selector"] == {"cosim.dev/pool": "gpu"}
    assert gpu["tolerations"][0]["key"] == "nvidia.com/gpu"
    assert gpu["environment"]["COSIM_PROFILE"] == "gpu-small"
    # A CPU pod on a GPU node sees no GPU; a GPU pod renders with EGL on its own.
    assert cpu["environment"]["CUDA_VISIBLE_DEVICES"] == ""
    assert cpu["environment"]["NVIDIA_VISIBLE_DEVICES"] == "void"
    assert gpu["environment"]["MUJOCO_GL"] == "egl"
    assert "NVIDIA_VISIBLE_DEVICES" not in gpu["environment"]  # the device plugin sets it


@pytest.mark.parametrize(
    ("name", "requests", "limits"),
    [
        ("cpu", {"cpu": "500m", "memory": "1G"}, {"cpu": "2", "memory": "4G"}),
        (
            "gpu-large",
            {"cpu": "16", "memory": "64G", "nvidia.com/gpu": "4"},
            {"cpu": "32", "memory": "128G", "nvidia.com/gpu": "4"},
        ),
    ],
)
def test_pod_resources(name: str, requests: dict[str, str], limits: dict[str, str]) -> None:
    profile = find_profile(load_profiles(), name)
    assert profile is not None
    assert pod_resources(profile) == {"requests": requests, "limits": limits}


@pytest.mark.parametrize(
    ("cpu_limit", "available", "cpus"),
    [(2, {0, 1, 2, 3}, (0, 1)), (8, {0, 1}, (0, 1)), (0.5, {3, 5}, (3,)), (1.2, {0, 1, 2}, (0, 1))],
)
def test_local_limits(cpu_limit: float, available: set[int], cpus: tuple[int, ...]) -> None:
    profile = Profile(name="p", display_name="P", cpu_request=0.1, cpu_limit=cpu_limit, gpus=2)
    limits = local_limits(profile, available)
    assert limits.cpus == cpus
    assert limits.data_bytes == 4 * 1024**3
    assert limits.environment["COSIM_PROFILE"] == "p"
    assert limits.environment["COSIM_GPUS"] == "2"
