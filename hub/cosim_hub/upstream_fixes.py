"""Fixes for JupyterHub bugs that CoSim's features run into, applied only where they show.

Group shares left out of tokens. ``jupyterhub.scopes.get_scopes_for`` gives a *user* the shares
of their groups (``group.shared_with_me``), but a user's *token* only the user's own shares: the
token's owner scopes, which every token is intersected with, never include the groups' shares.
A browser reaches a user server with an OAuth token, so a member of a group that alice shared her
server with is refused by her server (403) although the hub says he may enter. Seen in
JupyterHub 5.5.4 and in upstream main (6.0.0b2).

The fix wraps ``get_scopes_for``: for a token whose owner belongs to a group with shares, the
owner's scope set also holds those shares (expanded as for the user), and the token is then
reduced to what it asked for exactly as upstream does; every other call goes to upstream's own
function unchanged. Whether the installed hub has the bug is found out by behaviour, not by
version: a throwaway in-memory hub database with a user, a group, a group share and an
``inherit`` token, asked once at hub start. A fixed JupyterHub is left alone.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from typing import Any

FIXED_MARK = "__cosim_group_shares_fix__"

ScopesFor = Callable[[Any], Any]


def _log() -> logging.Logger:
    """The hub's own log while its config loads (our module logger elsewhere)."""
    from traitlets.config import Application

    if Application.initialized():
        return Application.instance().log
    return logging.getLogger("cosim_hub.upstream_fixes")


def group_share_scopes(user: Any) -> frozenset[str]:
    """Scopes ``user`` holds through shares with their groups, expanded like upstream's User
    branch of ``get_scopes_for`` expands them."""
    from jupyterhub import scopes

    found: set[str] = set()
    for group in user.groups:
        for share in group.shared_with_me:
            found |= scopes.expand_share_scopes(share)
    return frozenset(found)


def _token_scopes(token: Any, group_scopes: frozenset[str]) -> frozenset[str] | set[str]:
    """Upstream's APIToken branch of ``get_scopes_for`` (JupyterHub 5.5 / 6.0), with the
    owner's scope set widened by ``group_scopes``."""
    import sqlalchemy as sa
    from jupyterhub import roles, scopes

    owner = token.user
    owner_scopes = frozenset(roles.roles_to_expanded_scopes(roles.get_roles_for(owner), owner))
    for share in owner.shared_with_me:
        owner_scopes |= frozenset(share.scopes)
    owner_scopes |= group_scopes

    requested = set(token.scopes)
    if "inherit" in requested:
        return owner_scopes
    requested = set(scopes.expand_scopes(requested, owner=owner, oauth_client=token.oauth_client))
    if token.client_id != "jupyterhub":
        # An OAuth token reaches the server or service that issued it, if its owner still may.
        requested.update(scopes.access_scopes(token.oauth_client))
    requested.update(scopes.identify_scopes(owner))
    requested = scopes.reduce_scopes(requested)
    kept = scopes._intersect_expanded_scopes(requested, owner_scopes, db=sa.inspect(token).session)
    if requested - kept:
        _log().warning(
            "discarding scopes [%s], not present in roles of owner %s", requested - kept, owner
        )
    return kept


def with_group_shares(original: ScopesFor) -> ScopesFor:
    """``get_scopes_for`` that also gives a user's tokens the shares of the user's groups."""
    from jupyterhub import orm

    def get_scopes_for(orm_object: Any) -> Any:
        if isinstance(orm_object, orm.APIToken) and orm_object.user is not None:
            group_scopes = group_share_scopes(orm_object.user)
            if group_scopes:
                return _token_scopes(orm_object, group_scopes)
        return original(orm_object)

    get_scopes_for.__doc__ = original.__doc__
    get_scopes_for.__wrapped__ = original  # type: ignore[attr-defined]
    setattr(get_scopes_for, FIXED_MARK, True)
    return get_scopes_for


def tokens_get_group_shares(get_scopes_for: ScopesFor) -> bool:
    """Whether ``get_scopes_for`` gives an ``inherit`` token of a group member the group's share
    of another user's server, asked of a throwaway in-memory hub database."""
    import sqlalchemy as sa
    from jupyterhub import orm
    from sqlalchemy.orm import Session

    engine = sa.create_engine("sqlite://")
    try:
        orm.Base.metadata.create_all(engine)
        with Session(engine) as db:
            # Unlikely names: upstream caches scope expansions by owner name.
            tag = secrets.token_hex(6)
            owner = orm.User(name=f"cosim-probe-owner-{tag}")
            member = orm.User(name=f"cosim-probe-member-{tag}")
            group = orm.Group(name=f"cosim-probe-group-{tag}")
            group.users.append(member)
            spawner = orm.Spawner(user=owner, name="")
            db.add_all([owner, member, group, spawner])
            db.commit()
            scope = f"access:servers!server={owner.name}/"
            db.add(orm.Share(owner=owner, spawner=spawner, group=group, scopes=[scope]))
            token = orm.APIToken(user=member, scopes=["inherit"])
            db.add(token)
            db.commit()
            return scope in get_scopes_for(token)
    finally:
        engine.dispose()


def fix_group_shares_in_tokens() -> bool:
    """Patch ``get_scopes_for`` where the installed JupyterHub leaves group shares out of
    tokens; returns whether the fix is in place now."""
    from jupyterhub import scopes
    from jupyterhub.apihandlers import base as api_base

    original = scopes.get_scopes_for
    if getattr(original, FIXED_MARK, False):
        return True
    log = _log()
    try:
        if tokens_get_group_shares(original):
            return False  # this JupyterHub is fixed: nothing to do
        fixed = with_group_shares(original)
        works = tokens_get_group_shares(fixed)
    except Exception as err:  # upstream's models moved: leave JupyterHub as it is
        log.warning("CoSim: could not check JupyterHub for group shares in tokens: %s", err)
        return False
    if not works:
        log.warning("CoSim: the group-shares-in-tokens fix does not work on this JupyterHub")
        return False
    scopes.get_scopes_for = fixed
    # The token API's model imported the name itself: the scopes it lists should be the ones
    # the token really has.
    if api_base.get_scopes_for is original:
        api_base.get_scopes_for = fixed
    log.info(
        "CoSim: patched jupyterhub.scopes.get_scopes_for: this JupyterHub leaves the shares of a "
        "user's groups out of the user's tokens, so group members of a shared server were refused"
    )
    return True
