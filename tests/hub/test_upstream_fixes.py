"""JupyterHub's scopes with CoSim's group-shares fix, on real hub models in an in-memory database:
a group member's tokens get the group's shares, reduced to what each token asked for, and lose
them when the member leaves or the share goes; the fix is applied only where the bug shows."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from jupyterhub import orm, scopes
from jupyterhub.apihandlers import base as api_base
from sqlalchemy.orm import Session

from cosim_hub.upstream_fixes import (
    fix_group_shares_in_tokens,
    tokens_get_group_shares,
    with_group_shares,
)

ACCESS = "access:servers!server=fix-alice/"
READ = "read:servers!server=fix-alice/"  # a second scope the share carries
UPSTREAM = getattr(scopes.get_scopes_for, "__wrapped__", scopes.get_scopes_for)
FIXED = with_group_shares(UPSTREAM)


@dataclass
class Hub:
    db: Session
    alice: Any  # owns the shared server
    bob: Any  # in the group alice shared with
    group: Any
    share: Any
    alice_client: Any  # the OAuth client of alice's server
    carol_client: Any  # the OAuth client of carol's server (not shared)
    hub_client: Any  # the hub's own client: API tokens

    def token(self, scopes: list[str], client: Any = None) -> Any:
        token = orm.APIToken(user=self.bob, scopes=scopes)
        token.oauth_client = client or self.hub_client
        self.db.add(token)
        self.db.commit()
        return token


@pytest.fixture
def hub() -> Iterator[Hub]:
    engine = sa.create_engine("sqlite://")
    orm.Base.metadata.create_all(engine)
    with Session(engine) as db:
        alice, bob, carol = (orm.User(name=f"fix-{n}") for n in ("alice", "bob", "carol"))
        group = orm.Group(name="fix-lab")
        group.users.append(bob)
        clients = []
        for owner in (alice, carol):
            spawner = orm.Spawner(user=owner, name="")
            client = orm.OAuthClient(identifier=f"jupyterhub-user-{owner.name}")
            spawner.oauth_client = client
            db.add_all([owner, spawner, client])
            clients.append(client)
        clients.append(orm.OAuthClient(identifier="jupyterhub"))
        db.add_all([bob, group, clients[-1]])
        db.commit()
        share = orm.Share(
            owner=alice,
            spawner=alice.orm_spawners[""],
            group=group,
            scopes=[ACCESS, READ],
        )
        db.add(share)
        db.commit()
        yield Hub(db, alice, bob, group, share, *clients)
    engine.dispose()


def test_the_installed_jupyterhub_needs_the_fix_and_it_works() -> None:
    # If this fails, JupyterHub gives tokens their groups' shares itself: the fix then stays off
    # (see test_a_fixed_jupyterhub_is_left_alone) and can be removed.
    assert not tokens_get_group_shares(UPSTREAM)
    assert tokens_get_group_shares(FIXED)


def test_a_member_token_gets_the_group_share_as_its_owner_would(hub: Hub) -> None:
    inherit = hub.token(["inherit"])
    assert ACCESS not in UPSTREAM(inherit)
    assert ACCESS in FIXED(inherit)
    assert FIXED(inherit) >= UPSTREAM(inherit)
    # The browser's token for alice's server (what her server checks) reaches it...
    browser = hub.token([], client=hub.alice_client)
    assert ACCESS in FIXED(browser)
    assert READ not in FIXED(browser)  # not asked for
    # ...a token that asked for the share's other scope gets it, as for any share of bob's own...
    viewer = hub.token([READ], client=hub.alice_client)
    assert READ in FIXED(viewer)
    # ...but tokens keep only what they asked for: the group share adds nothing to a token of
    # the hub's own client that did not ask for it, nor to one issued by carol's server.
    narrow = hub.token(["read:users:name!user"])
    assert not any(s.startswith("access:servers") for s in FIXED(narrow))
    assert FIXED(narrow) == UPSTREAM(narrow)
    carols = hub.token([], client=hub.carol_client)
    assert not any(s.startswith("access:servers") for s in FIXED(carols))


def test_leaving_the_group_or_losing_the_share_takes_the_scope_away(hub: Hub) -> None:
    token = hub.token([], client=hub.alice_client)
    assert ACCESS in FIXED(token)
    hub.group.users.remove(hub.bob)
    hub.db.commit()
    assert ACCESS not in FIXED(token)
    hub.group.users.append(hub.bob)
    hub.db.commit()
    assert ACCESS in FIXED(token)
    hub.db.delete(hub.share)
    hub.db.commit()
    hub.db.expire_all()
    assert ACCESS not in FIXED(token)
    assert FIXED(token) == UPSTREAM(token)


def test_the_fix_is_applied_once_to_both_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scopes, "get_scopes_for", UPSTREAM)
    monkeypatch.setattr(api_base, "get_scopes_for", UPSTREAM)
    assert fix_group_shares_in_tokens()
    patched = scopes.get_scopes_for
    assert patched is not UPSTREAM and api_base.get_scopes_for is patched
    assert fix_group_shares_in_tokens() and scopes.get_scopes_for is patched


def test_a_fixed_jupyterhub_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    def upstream_fixed(orm_object: Any) -> Any:  # what a JupyterHub without the bug does
        return FIXED(orm_object)

    monkeypatch.setattr(scopes, "get_scopes_for", upstream_fixed)
    monkeypatch.setattr(api_base, "get_scopes_for", upstream_fixed)
    assert not fix_group_shares_in_tokens()
    assert scopes.get_scopes_for is upstream_fixed and api_base.get_scopes_for is upstream_fixed
