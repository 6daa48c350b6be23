"""Two different hub users on the real stack: alice shares her server with bob, bob works in it,
alice revokes and bob is out at once (next request 403, viewer socket closed)."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Callable
from typing import Any

import pytest
import requests
from tornado.httpclient import HTTPClientError, HTTPRequest
from tornado.websocket import websocket_connect

from cosim_protocol.sharing import CLOSE_ACCESS_CHANGED, CLOSE_ACCESS_REVOKED, VIEW_SCOPE
from cosim_testing.hub_client import HubClient
from cosim_testing.sims import fake_sim
from cosim_testing.stack import CoSimStack

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def pair(cosim_stack: CoSimStack) -> tuple[HubClient, HubClient]:
    tag = secrets.token_hex(2)
    alice, _ = cosim_stack.new_user(f"alice{tag}")
    bob, _ = cosim_stack.new_user(f"bob{tag}")
    alice.spawn()
    assert alice.open_lab().status_code == 200
    return alice, bob


def test_alice_shares_with_her_own_token_and_revokes_through_her_server(
    cosim_stack: CoSimStack, pair: tuple[HubClient, HubClient]
) -> None:
    alice, bob = pair
    a, b = alice.user, bob.user
    # Before any share bob cannot enter alice's server.
    assert bob.request("GET", f"user/{a}/api/contents", allow_redirects=False).status_code in (
        302,
        403,
    )

    # alice's own API token (what a script of hers would use) may share her server.
    token = alice.api("POST", f"users/{a}/tokens", json={"note": "sharing test"}).json()["token"]
    as_alice = {"Authorization": f"token {token}"}
    resp = requests.post(
        alice.url(f"hub/api/shares/{a}/"), json={"user": b}, headers=as_alice, timeout=30
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["user"]["name"] == b
    # ...but not someone else's.
    other = requests.post(
        alice.url(f"hub/api/shares/{cosim_stack.admin}/"), json={"user": b}, headers=as_alice,
        timeout=30,
    )  # fmt: skip
    assert other.status_code in (403, 404)

    # bob opens alice's server: Lab, her files, a live viewer socket.
    assert bob.open_shared(a).status_code == 200
    assert bob.request("GET", f"user/{a}/api/contents").status_code == 200
    # The Share dialog's API is the owner's alone, even for someone she let in.
    listed = bob.request("GET", f"user/{a}/cosim/api/shares")
    assert listed.status_code == 403 and "owner" in listed.json()["message"]

    sim_id = fake_sim(cosim_stack, a)
    cookies = "; ".join(f"{c.name}={c.value}" for c in bob.session.cookies)
    ws_url = cosim_stack.public_url(f"user/{a}/cosim/api/sims/{sim_id}/ws").replace("http", "ws", 1)

    async def watch_then_revoke() -> tuple[int | None, float]:
        ws = await websocket_connect(HTTPRequest(ws_url, headers={"Cookie": cookies}))
        hello = json.loads(await asyncio.wait_for(ws.read_message(), 10))
        assert hello["type"] == "hello"
        ws.write_message(json.dumps({"type": "join"}))
        while True:  # bob is in the sim's room: the presence list names him
            message = await asyncio.wait_for(ws.read_message(), 10)
            if isinstance(message, str) and json.loads(message).get("type") == "presence":
                assert b in json.loads(message)["users"]
                break
        # alice's dialog lists bob, then revokes him.
        shares = alice.request("GET", f"user/{a}/cosim/api/shares").json()
        assert {"kind": "user", "name": b} in [
            {"kind": s["kind"], "name": s["name"]} for s in shares["shares"]
        ]
        assert b in shares["users"] and a not in shares["users"]
        start = time.monotonic()
        revoked = alice.request("DELETE", f"user/{a}/cosim/api/shares?user={b}")
        assert revoked.status_code == 200, revoked.text
        while await asyncio.wait_for(ws.read_message(), 10) is not None:
            pass
        return ws.close_code, time.monotonic() - start

    code, seconds = asyncio.run(watch_then_revoke())
    assert code == CLOSE_ACCESS_REVOKED
    assert seconds < 2.0
    # bob's very next request is refused.
    after = bob.request("GET", f"user/{a}/api/contents", allow_redirects=False)
    assert after.status_code == 403, after.status_code
    assert alice.request("GET", f"user/{a}/api/contents").status_code == 200


def test_share_dialog_api_validates_and_makes_expiring_links(
    pair: tuple[HubClient, HubClient],
) -> None:
    alice, bob = pair
    a = alice.user
    base = f"user/{a}/cosim/api"
    for body in ({}, {"user": bob.user, "group": "g"}, {"user": ""}, {"user": bob.user, "x": 1},
                 {"user": a}, {"user": bob.user, "view_only": "yes"}):  # fmt: skip
        resp = alice.request("POST", f"{base}/shares", data=json.dumps(body))
        assert resp.status_code == 400, (body, resp.text)
        assert "Traceback" not in resp.text
    missing = alice.request("POST", f"{base}/shares", data=json.dumps({"user": "nobody-here"}))
    assert missing.status_code == 400 and "nobody-here" in missing.json()["message"]
    for expires in (5, 10**9, "1h", True):
        resp = alice.request(
            "POST", f"{base}/share-codes", data=json.dumps({"expires_in": expires})
        )
        assert resp.status_code == 400, (expires, resp.text)
    link = alice.request("POST", f"{base}/share-codes", data=json.dumps({"expires_in": 3600}))
    assert link.status_code == 200, link.text
    assert "accept-share?code=" in link.json()["accept_url"]
    codes = alice.request("GET", f"{base}/shares").json()["codes"]
    assert [c["id"] for c in codes] == [link.json()["id"]]
    assert alice.request("DELETE", f"{base}/share-codes").status_code == 200
    assert alice.request("GET", f"{base}/shares").json()["codes"] == []


def test_view_only_share_reads_but_cannot_edit_execute_or_control(
    cosim_stack: CoSimStack, pair: tuple[HubClient, HubClient]
) -> None:
    alice, _ = pair
    a = alice.user
    carol, _ = cosim_stack.new_user(f"carol{secrets.token_hex(2)}")
    c = carol.user
    resp = alice.request(
        "POST", f"user/{a}/cosim/api/shares", data=json.dumps({"user": c, "view_only": True})
    )
    assert resp.status_code == 200, resp.text
    listed = alice.request("GET", f"user/{a}/cosim/api/shares").json()["shares"]
    assert {"kind": "user", "name": c, "view_only": True} in [
        {k: s[k] for k in ("kind", "name", "view_only")} for s in listed
    ]
    assert carol.open_shared(a).status_code == 200
    # Reading works...
    assert carol.request("GET", f"user/{a}/api/contents").status_code == 200
    sim_id = fake_sim(cosim_stack, a)
    assert carol.request("GET", f"user/{a}/cosim/api/sims/{sim_id}").status_code == 200
    # Lab's request for a document's live room is a read too (her room edits are dropped).
    alice.request("PUT", f"user/{a}/api/contents/seen.txt", data=json.dumps(
        {"type": "file", "format": "text", "content": "hello"}))  # fmt: skip
    room = carol.request("PUT", f"user/{a}/api/collaboration/session/seen.txt",
                         data=json.dumps({"format": "text", "type": "file"}))  # fmt: skip
    assert room.status_code in (200, 201), room.text
    # ...acting is refused by the server, not just hidden.
    body = json.dumps({"type": "file", "format": "text", "content": "x"})
    assert carol.request("PUT", f"user/{a}/api/contents/carol.txt", data=body).status_code == 403
    assert carol.request("POST", f"user/{a}/api/kernels", data="{}").status_code == 403
    # Lab's menus' other writes (every route: tests/server/test_lab_writes.py), here through
    # the hub with CoSim's authorizer: new file, rename, delete, new session, terminal, and
    # alice's Lab settings (JupyterLab itself only asks for a login there).
    untitled = json.dumps({"type": "notebook"})
    assert carol.request("POST", f"user/{a}/api/contents", data=untitled).status_code == 403
    rename = json.dumps({"path": "renamed.txt"})
    assert carol.request("PATCH", f"user/{a}/api/contents/seen.txt", data=rename).status_code == 403
    assert carol.request("DELETE", f"user/{a}/api/contents/seen.txt").status_code == 403
    session = json.dumps({"path": "x.ipynb", "type": "notebook", "kernel": {"name": "python3"}})
    assert carol.request("POST", f"user/{a}/api/sessions", data=session).status_code == 403
    assert carol.request("POST", f"user/{a}/api/terminals", data="{}").status_code == 403
    themes = f"user/{a}/lab/api/settings/@jupyterlab/apputils-extension:themes"
    dark = json.dumps({"raw": '{"theme": "JupyterLab Dark"}'})
    assert carol.request("GET", themes).status_code == 200
    assert carol.request("PUT", themes, data=dark).status_code == 403
    assert "Dark" not in alice.request("GET", themes).json()["raw"]
    assert _contents_text(alice, a, "seen.txt") == "hello"
    change = json.dumps({"state": "paused"})
    resp = carol.request("POST", f"user/{a}/cosim/api/sims/{sim_id}/control", data=change)
    assert resp.status_code == 403
    # The owner is unaffected.
    assert alice.request("PUT", f"user/{a}/api/contents/alice.txt", data=body).status_code in (
        200,
        201,
    )


def _contents_text(client: HubClient, owner: str, path: str) -> str:
    resp = client.request("GET", f"user/{owner}/api/contents/{path}?content=1")
    assert resp.status_code == 200, resp.text
    return str(resp.json()["content"])


# Access taken away outside the Share dialog: the server's access watch re-checks each active
# visitor with the hub every couple of seconds (cosim_server.access_watch).
CLOSED_WITHIN_S = 6.0


def _ws_url(stack: CoSimStack, owner: str, path: str) -> str:
    return stack.public_url(f"user/{owner}/{path}").replace("http", "ws", 1)


def _all_sockets_close(
    visitor: HubClient, urls: dict[str, str], take_away: Callable[[], None]
) -> dict[str, tuple[int | None, float]]:
    """Open ``visitor``'s WebSockets at ``urls`` (name -> URL), run ``take_away()``, and return
    each socket's close code and how long after ``take_away`` returned it closed (negative:
    before; code None: still open ``CLOSED_WITHIN_S`` + 4 s later)."""
    cookies = "; ".join(f"{c.name}={c.value}" for c in visitor.session.cookies)

    async def closed_at(ws: Any) -> tuple[int | None, float]:
        while True:  # read from before take_away, so that an early close is seen when it comes
            if await ws.read_message() is None:
                return ws.close_code, time.monotonic()

    async def watch() -> dict[str, tuple[int | None, float]]:
        sockets = {
            name: await websocket_connect(HTTPRequest(url, headers={"Cookie": cookies}))
            for name, url in urls.items()
        }
        readers = [asyncio.ensure_future(closed_at(ws)) for ws in sockets.values()]
        await asyncio.get_running_loop().run_in_executor(None, take_away)
        done = time.monotonic()
        await asyncio.wait(readers, timeout=CLOSED_WITHIN_S + 4)
        result = {}
        for name, reader in zip(sockets, readers, strict=True):
            if reader.done():
                code, at = reader.result()
                result[name] = (code, at - done)
            else:
                reader.cancel()
                sockets[name].close()
                result[name] = (None, CLOSED_WITHIN_S + 4)
        return result

    return asyncio.run(watch())


def _visitor_in(
    stack: CoSimStack, alice: HubClient, share: dict[str, str], visitor: HubClient
) -> dict[str, str]:
    """alice shares her server (her own token, the hub's REST API); the visitor enters."""
    token = alice.api("POST", f"users/{alice.user}/tokens", json={"note": "rest share"}).json()
    as_alice = {"Authorization": f"token {token['token']}"}
    resp = requests.post(
        alice.url(f"hub/api/shares/{alice.user}/"), json=share, headers=as_alice, timeout=30
    )
    assert resp.status_code == 200, resp.text
    assert visitor.open_shared(str(alice.user)).status_code == 200
    # This answer is now cached by alice's server (for minutes, without the watch).
    assert visitor.request("GET", f"user/{alice.user}/api/contents").status_code == 200
    return as_alice


def _shut_out(
    stack: CoSimStack,
    visitor: HubClient,
    owner: str,
    take_away: Callable[[], None],
    within_s: float = CLOSED_WITHIN_S,
) -> None:
    viewer = _ws_url(stack, owner, f"cosim/api/sims/{fake_sim(stack, owner)}/ws")
    code, seconds = _all_sockets_close(visitor, {"viewer": viewer}, take_away)["viewer"]
    assert code == CLOSE_ACCESS_REVOKED, (code, seconds)
    assert seconds < within_s, seconds
    after = visitor.request("GET", f"user/{owner}/api/contents", allow_redirects=False)
    assert after.status_code == 403, after.status_code


@pytest.mark.parametrize("who", ["owner", "admin"])
def test_share_revoked_through_the_hub_api_shuts_the_visitor_out(
    cosim_stack: CoSimStack, pair: tuple[HubClient, HubClient], who: str
) -> None:
    alice, _ = pair
    a = str(alice.user)
    dave, _ = cosim_stack.new_user(f"dave{secrets.token_hex(2)}")
    d = str(dave.user)
    as_alice = _visitor_in(cosim_stack, alice, {"user": d}, dave)
    admin = cosim_stack.admin_client()

    def revoke() -> None:  # the hub's own API, not alice's server: her server is not told
        if who == "owner":  # alice's token, the server's side of the sharing API
            resp = requests.patch(
                alice.url(f"hub/api/shares/{a}/"), json={"user": d}, headers=as_alice, timeout=30
            )
        else:  # an admin, the user's side of the sharing API
            resp = admin.api("DELETE", f"users/{d}/shared/{a}/")
        assert resp.status_code in (200, 204), resp.text

    _shut_out(cosim_stack, dave, a, revoke)
    assert alice.request("GET", f"user/{a}/api/contents").status_code == 200


def test_the_hub_logs_the_group_shares_fix(cosim_stack: CoSimStack) -> None:
    # cosim_hub.upstream_fixes: the installed JupyterHub leaves group shares out of tokens
    # (test_upstream_fixes checks that it still does), and the hub says it patched that.
    log = (cosim_stack.state_dir / "logs" / "hub.log").read_text(errors="replace")
    assert "patched jupyterhub.scopes.get_scopes_for" in log


def _group_of(stack: CoSimStack, prefix: str, member: str) -> str:
    """A new hub group (a random name after ``prefix``) with ``member`` in it."""
    group = f"{prefix}{secrets.token_hex(3)}"
    admin = stack.admin_client()
    assert admin.api("POST", f"groups/{group}").status_code == 201
    assert admin.api("POST", f"groups/{group}/users", json={"users": [member]}).status_code == 200
    return group


@pytest.mark.parametrize("how", ["member removed", "group share revoked", "Share dialog"])
def test_group_access_taken_away_shuts_the_member_out(
    cosim_stack: CoSimStack, pair: tuple[HubClient, HubClient], how: str
) -> None:
    alice, _ = pair
    a = str(alice.user)
    erin, _ = cosim_stack.new_user(f"erin{secrets.token_hex(2)}")
    e = str(erin.user)
    group = _group_of(cosim_stack, "lab", e)
    admin = cosim_stack.admin_client()
    _visitor_in(cosim_stack, alice, {"group": group}, erin)

    def take_away() -> None:
        if how == "member removed":
            resp = admin.api("DELETE", f"groups/{group}/users", json={"users": [e]})
        elif how == "group share revoked":  # an admin, the group's side of the sharing API
            resp = admin.api("DELETE", f"groups/{group}/shared/{a}/")
        else:  # alice's Share dialog: her server re-checks its visitors at once
            resp = alice.request("DELETE", f"user/{a}/cosim/api/shares?group={group}")
        assert resp.status_code in (200, 204), resp.text

    # The dialog's revoke re-checks visitors before it answers (0.5 s: the close and the answer
    # travel on different connections through a loaded machine) instead of at the next re-check.
    _shut_out(cosim_stack, erin, a, take_away, 0.5 if how == "Share dialog" else CLOSED_WITHIN_S)


def test_revoke_closes_the_visitors_kernel_and_document_sockets_too(
    cosim_stack: CoSimStack, pair: tuple[HubClient, HubClient]
) -> None:
    """Not only viewers: bob's kernel channels and his RTC document room close within the
    re-check interval when alice revokes him through the hub's REST API (her server is not
    told), and he cannot reopen them."""
    alice, _ = pair
    a = str(alice.user)
    fay, _ = cosim_stack.new_user(f"fay{secrets.token_hex(2)}")
    as_alice = _visitor_in(cosim_stack, alice, {"user": str(fay.user)}, fay)
    kernel = alice.request("POST", f"user/{a}/api/kernels", data=json.dumps({"name": "python3"}))
    assert kernel.status_code == 201, kernel.text
    kernel_id = kernel.json()["id"]
    notebook = f"fay-{secrets.token_hex(2)}.ipynb"
    empty = {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    created = alice.request(
        "PUT",
        f"user/{a}/api/contents/{notebook}",
        data=json.dumps({"type": "notebook", "format": "json", "content": empty}),
    )
    assert created.status_code in (200, 201), created.text
    session = fay.request(
        "PUT",
        f"user/{a}/api/collaboration/session/{notebook}",
        data=json.dumps({"format": "json", "type": "notebook"}),
    )
    assert session.status_code in (200, 201), session.text
    room = f"json:notebook:{session.json()['fileId']}?sessionId={session.json()['sessionId']}"
    urls = {
        "kernel": _ws_url(cosim_stack, a, f"api/kernels/{kernel_id}/channels"),
        "document": _ws_url(cosim_stack, a, f"api/collaboration/room/{room}"),
        "viewer": _ws_url(cosim_stack, a, f"cosim/api/sims/{fake_sim(cosim_stack, a)}/ws"),
    }

    def revoke() -> None:
        resp = requests.patch(
            alice.url(f"hub/api/shares/{a}/"), json={"user": fay.user}, headers=as_alice,
            timeout=30,
        )  # fmt: skip
        assert resp.status_code == 200, resp.text

    try:
        closed = _all_sockets_close(fay, urls, revoke)
    finally:
        alice.request("DELETE", f"user/{a}/api/kernels/{kernel_id}")
    for name, (code, seconds) in closed.items():
        assert code == CLOSE_ACCESS_REVOKED, (name, closed)
        assert seconds < CLOSED_WITHIN_S, (name, closed)
    refused = fay.request("GET", f"user/{a}/api/kernels/{kernel_id}", allow_redirects=False)
    assert refused.status_code == 403


def test_a_share_made_view_only_reconnects_the_visitors_sockets(
    cosim_stack: CoSimStack, pair: tuple[HubClient, HubClient]
) -> None:
    """A kernel socket opened under an edit share would go on executing after alice makes the
    share view-only: it closes ("access changed"), and reopening it is refused."""
    alice, _ = pair
    a = str(alice.user)
    gil, _ = cosim_stack.new_user(f"gil{secrets.token_hex(2)}")
    g = str(gil.user)

    def share(view_only: bool) -> None:
        body = json.dumps({"user": g, "view_only": view_only})
        resp = alice.request("POST", f"user/{a}/cosim/api/shares", data=body)
        assert resp.status_code == 200, resp.text

    share(False)
    assert gil.open_shared(a).status_code == 200
    kernel = alice.request("POST", f"user/{a}/api/kernels", data=json.dumps({"name": "python3"}))
    assert kernel.status_code == 201, kernel.text
    kernel_id = kernel.json()["id"]
    channels = _ws_url(cosim_stack, a, f"api/kernels/{kernel_id}/channels")
    try:
        code, seconds = _all_sockets_close(gil, {"kernel": channels}, lambda: share(True))["kernel"]
        assert code == CLOSE_ACCESS_CHANGED and seconds < 0.5, (code, seconds)
        cookies = "; ".join(f"{c.name}={c.value}" for c in gil.session.cookies)

        async def reopen() -> None:
            await websocket_connect(HTTPRequest(channels, headers={"Cookie": cookies}))

        with pytest.raises(HTTPClientError) as refused:
            asyncio.run(reopen())
        assert refused.value.code == 403
    finally:
        alice.request("DELETE", f"user/{a}/api/kernels/{kernel_id}")
    assert gil.request("GET", f"user/{a}/api/contents").status_code == 200  # still may read


def _access_now(stack: CoSimStack, visitor: HubClient, owner: str) -> dict[str, Any]:
    """The first message of the visitor's access socket: what their Lab learns on (re)open."""
    cookies = "; ".join(f"{c.name}={c.value}" for c in visitor.session.cookies)
    url = _ws_url(stack, owner, "cosim/api/access/ws")

    async def read() -> dict[str, Any]:
        ws = await websocket_connect(HTTPRequest(url, headers={"Cookie": cookies}))
        try:
            return dict(json.loads(await asyncio.wait_for(ws.read_message(), 10)))
        finally:
            ws.close()

    return asyncio.run(read())


def test_access_changes_reach_the_visitors_lab_without_a_reload(
    cosim_stack: CoSimStack, pair: tuple[HubClient, HubClient]
) -> None:
    """The server tells Lab whether its user may write (Lab shows documents read-only from it),
    and closes that socket ("access changed") when a share becomes editable or view-only,
    through the Share dialog at once and through the hub's own API within a refresh."""
    alice, _ = pair
    a = str(alice.user)
    hal, _ = cosim_stack.new_user(f"hal{secrets.token_hex(2)}")
    h = str(hal.user)
    access_ws = {"access": _ws_url(cosim_stack, a, "cosim/api/access/ws")}
    note = json.dumps({"type": "file", "format": "text", "content": "hal was here"})

    def share(view_only: bool) -> None:
        body = json.dumps({"user": h, "view_only": view_only})
        resp = alice.request("POST", f"user/{a}/cosim/api/shares", data=body)
        assert resp.status_code == 200, resp.text

    share(True)
    assert hal.open_shared(a).status_code == 200
    rest = hal.request("GET", f"user/{a}/cosim/api/access").json()
    assert rest["writable"] is False and rest["user"] == h and rest["owner"] == a, rest
    assert "view-only" in rest["reason"] and a in rest["reason"]
    assert _access_now(cosim_stack, hal, a)["writable"] is False
    assert alice.request("GET", f"user/{a}/cosim/api/access").json()["writable"] is True
    assert hal.request("PUT", f"user/{a}/api/contents/hal.txt", data=note).status_code == 403

    # Made editable in the Share dialog: the socket closes before the dialog's answer is back,
    # and the reopened one (no reload) says writable; hal never lost his way in meanwhile.
    closed = _all_sockets_close(hal, access_ws, lambda: share(False))["access"]
    assert closed[0] == CLOSE_ACCESS_CHANGED and closed[1] < 0.5, closed
    assert _access_now(cosim_stack, hal, a)["writable"] is True
    assert hal.request("PUT", f"user/{a}/api/contents/hal.txt", data=note).status_code in (200, 201)

    # Made view-only through the hub's API (alice's token; her server is not told): within the
    # server's refresh of its shares (5 s) plus a margin for a loaded machine.
    view_only_via_hub = _view_only_via_hub(alice, {"user": h})
    closed = _all_sockets_close(hal, access_ws, view_only_via_hub)["access"]
    assert closed[0] == CLOSE_ACCESS_CHANGED and closed[1] < CLOSED_WITHIN_S + 2, closed
    assert _access_now(cosim_stack, hal, a)["writable"] is False
    assert hal.request("PUT", f"user/{a}/api/contents/hal.txt", data=note).status_code == 403


def _view_only_via_hub(owner: HubClient, who: dict[str, str]) -> Callable[[], None]:
    """A call that makes ``who``'s share ({"user": name} or {"group": name}) of ``owner``'s
    server view-only through the hub's own API, with the owner's token: her server is not told."""
    o = str(owner.user)
    token = owner.api("POST", f"users/{o}/tokens", json={"note": "view-only"}).json()["token"]

    def send() -> None:
        resp = requests.post(
            owner.url(f"hub/api/shares/{o}/"),
            json={**who, "scopes": [f"{VIEW_SCOPE}!server={o}/"]},
            headers={"Authorization": f"token {token}"},
            timeout=30,
        )
        assert resp.status_code == 200, resp.text

    return send


def test_a_group_share_made_editable_or_view_only_reaches_its_members(
    cosim_stack: CoSimStack, pair: tuple[HubClient, HubClient]
) -> None:
    """A share given to a group: a member's access follows it between view-only and edit (the
    REST answer, his writes, and his access socket closing "access changed"), through the Share
    dialog and through the hub's own API."""
    alice, _ = pair
    a = str(alice.user)
    ivy, _ = cosim_stack.new_user(f"ivy{secrets.token_hex(2)}")
    i = str(ivy.user)
    group = _group_of(cosim_stack, "crew", i)
    access_ws = {"access": _ws_url(cosim_stack, a, "cosim/api/access/ws")}
    note = json.dumps({"type": "file", "format": "text", "content": "ivy was here"})

    def share(view_only: bool) -> None:
        body = json.dumps({"group": group, "view_only": view_only})
        resp = alice.request("POST", f"user/{a}/cosim/api/shares", data=body)
        assert resp.status_code == 200, resp.text

    def may_write() -> bool:
        rest = ivy.request("GET", f"user/{a}/cosim/api/access").json()
        assert rest["user"] == i, rest
        socket = _access_now(cosim_stack, ivy, a)
        assert socket["writable"] is rest["writable"], (rest, socket)
        put = ivy.request("PUT", f"user/{a}/api/contents/ivy.txt", data=note).status_code
        assert put in ((200, 201) if rest["writable"] else (403,)), (rest, put)
        return bool(rest["writable"])

    share(True)
    assert ivy.open_shared(a).status_code == 200
    assert may_write() is False

    # The Share dialog makes the group's share editable: the member's socket closes at once.
    closed = _all_sockets_close(ivy, access_ws, lambda: share(False))["access"]
    assert closed[0] == CLOSE_ACCESS_CHANGED and closed[1] < 0.5, closed
    assert may_write() is True

    # The hub's API (alice's token; her server is not told) makes it view-only again: within
    # the server's refresh of its shares (5 s) plus a margin for a loaded machine.
    view_only_via_hub = _view_only_via_hub(alice, {"group": group})
    closed = _all_sockets_close(ivy, access_ws, view_only_via_hub)["access"]
    assert closed[0] == CLOSE_ACCESS_CHANGED and closed[1] < CLOSED_WITHIN_S + 2, closed
    assert may_write() is False
