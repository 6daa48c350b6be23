"""The spawn page's profile choice, and a chosen profile applied to a local user server.

Mixed into CoSimLocalSpawner. The form lists the profiles the user's groups may use, each with
its hourly price and, when the cost guard says it cannot start now, why not. Submitting one that
cannot start re-renders the form with the reason and the alternatives, before anything runs.
"""

from __future__ import annotations

import html
import os
import resource
from collections.abc import Callable
from typing import Any

from .config import CoSimHub
from .costguard.settings import CoSimCostGuard
from .profiles import Profile, find_profile, load_profiles, local_limits, profiles_for

_FORM_STYLE = """
<style>
.cosim-profile { display: block; border: 1px solid #ccc; border-radius: 4px; padding: 8px 12px;
  margin: 6px 0; cursor: pointer; }
.cosim-profile input { margin-right: 8px; }
.cosim-price { float: right; font-weight: bold; }
.cosim-unavailable { color: #a94442; margin-top: 4px; }
.cosim-near-cap { color: #8a6d3b; margin-top: 4px; }
.cosim-gpus-free { color: #555; margin-top: 4px; font-size: 90%; }
</style>
"""


def _groups(spawner: Any) -> list[str]:
    return sorted(g.name for g in spawner.user.groups)


class ProfileFormMixin:
    """Profiles for a spawner that runs local processes (``user_options["profile"]``).

    The spawner sets ``options_form`` to :meth:`render_profile_form` (a traitlets default has
    to live on the HasTraits class itself).
    """

    # Provided by the Spawner this is mixed into.
    config: Any
    user: Any
    user_options: dict[str, Any]
    log: Any

    _profiles_cache: list[Profile] | None = None

    @property
    def profiles(self) -> list[Profile]:
        if self._profiles_cache is None:
            path = CoSimHub(config=self.config).profiles_file or None
            self._profiles_cache = load_profiles(path)
        return self._profiles_cache

    @property
    def selected_profile(self) -> Profile:
        profile = find_profile(self.profiles, (self.user_options or {}).get("profile"))
        # The pre-spawn hook has refused unknown names already; without it, the default.
        return profile or find_profile(self.profiles, None)  # type: ignore[return-value]

    def _guard(self) -> Any:
        if not CoSimCostGuard(config=self.config).enabled:
            return None
        from .costguard.spawn import SpawnGuard

        return SpawnGuard.for_spawner(self)

    async def render_profile_form(self) -> str:
        groups = _groups(self)
        guard = self._guard()
        if guard is not None:
            found = await guard.availability(self.user.name, groups)
            choices = [(a.profile, a.message) for a in found]
            warnings = {a.profile.name: a.warning for a in found}
        else:
            choices = [(p, "") for p in profiles_for(self.profiles, groups)]
            warnings = {}
        gpu_line, no_gpu = await self._gpu_form_line()
        if not self.gpu_pool.ids:  # type: ignore[attr-defined]  # GpuSpawnerMixin
            # No GPU on this machine: GPU profiles can never start here, so they are no choice.
            # With one CPU profile left that can start, there is nothing to ask: no form (as
            # KubeSpawner with one profile), the spawn goes straight on with the default.
            usable = [(p, why) for p, why in choices if not p.is_gpu]
            default = find_profile(self.profiles, None)
            if (
                len(usable) == 1
                and not usable[0][1]
                and default is not None
                and usable[0][0].name == default.name
            ):
                return ""
        choices = [(p, why or (no_gpu if p.is_gpu else "")) for p, why in choices]
        default_name = next((p.name for p, why in choices if p.default and not why), None)
        default_name = default_name or next((p.name for p, why in choices if not why), "")
        rows = [_FORM_STYLE, '<div class="cosim-profiles">']
        for profile, why in choices:
            checked = " checked" if profile.name == default_name else ""
            rows.append(
                f'<label class="cosim-profile" data-profile="{html.escape(profile.name)}">'
                f'<input type="radio" name="profile" value="{html.escape(profile.name)}"{checked}>'
                f"<strong>{html.escape(profile.display_name)}</strong>"
                f'<span class="cosim-price">{html.escape(profile.price_label())}</span>'
                f"<br><small>{html.escape(profile.description)}</small>"
                + (f'<div class="cosim-gpus-free">{html.escape(gpu_line)}</div>' * profile.is_gpu)
                + (f'<div class="cosim-unavailable">Not now: {html.escape(why)}</div>' * bool(why))
                + (
                    f'<div class="cosim-near-cap">Note: {html.escape(warnings[profile.name])}</div>'
                    * bool(warnings.get(profile.name))
                )
                + "</label>"
            )
        rows.append("</div>")
        return "\n".join(rows)

    async def _gpu_form_line(self) -> tuple[str, str]:
        """("2 of 4 GPUs free on this machine", "") or ("", why GPU profiles cannot start)."""
        pool = self.gpu_pool  # type: ignore[attr-defined]  # GpuSpawnerMixin
        if not pool.ids:
            return "", pool.unavailable_reason(1)
        try:
            free = await pool.free_count()
        except Exception:  # Redis away: the spawn itself says so; the form still renders
            return "", ""
        where = "in the pool declared for this site" if pool.reader.declared else "on this machine"
        return f"{free} of {len(pool.ids)} GPU(s) free {where}", ""

    async def options_from_form(self, formdata: dict[str, list[str]]) -> dict[str, Any]:
        name = (formdata.get("profile") or [""])[0]
        guard = self._guard()
        if guard is None:
            return {"profile": name}
        groups = _groups(self)
        profile = guard.choose(name, groups)  # unknown or not allowed: its message
        for item in await guard.availability(self.user.name, groups):
            if item.profile.name == profile.name and not item.ok:
                raise ValueError(
                    f"{profile.display_name} cannot start now: {item.message}."
                    + guard.alternatives(profile, groups)
                )
        return {"profile": profile.name}

    # ---- applying the profile to the process -----------------------------------------------
    def profile_environment(self) -> dict[str, str]:
        return local_limits(self.selected_profile).environment

    def profile_limits_fn(self) -> Callable[[], None]:
        """What the child runs before exec: pin to the profile's CPUs, cap its data size."""
        limits = local_limits(self.selected_profile)

        def apply() -> None:
            os.sched_setaffinity(0, limits.cpus)
            hard = resource.getrlimit(resource.RLIMIT_DATA)[1]
            cap = limits.data_bytes
            if hard != resource.RLIM_INFINITY:
                cap = min(hard, cap)
            resource.setrlimit(resource.RLIMIT_DATA, (cap, cap))

        return apply
