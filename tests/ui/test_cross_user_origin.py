"""A page that mallory serves, opened by another user in Chromium, cannot act as that user.

The attack of issue 17: mallory serves HTML from her own server, through jupyter-server-proxy
(``/user/mallory/proxy/<port>/``), and the admin (who may open any server) opens it. Mallory
controls everything her server runs, so she first lifts CoSim's server-side guards in her own
~/.jupyter config (the allowed proxy ports and their sandbox): what must hold
is the browser's origin boundary, her server on ``mallory.<hub host>`` and the victim's on
``admin.<hub host>``. The page then tries, with the victim's cookies, to read and write the
victim's files, start a kernel in the victim's server and mint a hub token for the victim.
Each effect is checked on the server side, not only by what the page reports.

With $COSIM_TEST_SUBDOMAINS=0 (one shared origin, the guard removed) every attempt succeeds and
this test fails.
"""

from __future__ import annotations

import json
import pwd
import secrets
import subprocess
from typing import Any

from cosim_hub.procs import free_port
from cosim_hub.spawner import unix_account_name
from cosim_testing.plugin import lab_login
from cosim_testing.stack import CoSimStack

# Mallory's own server config (she may set it, it is her server): her port, no sandbox.
MALLORY_CONFIG = """
c.CoSimServer.allowed_proxy_ports = [%d]
c.CoSimServer.proxied_content_csp = ""
"""

EVIL_PAGE = """<!doctype html><html><body><script>
const VICTIM = %(victim)s, HUB = %(hub)s, out = {};
function xsrfOf(url) {  // the _xsrf cookie a same-origin document at url can see
  return new Promise((resolve) => {
    const f = document.createElement("iframe");
    f.src = url;
    f.onload = () => {
      try {
        const m = f.contentDocument.cookie.match(/(?:^|; )_xsrf=([^;]*)/);
        resolve(m ? m[1] : "");
      } catch (e) { resolve(""); }
    };
    document.body.appendChild(f);
  });
}
async function attempt(name, fn) {
  try { out[name] = await fn(); } catch (e) { out[name] = "error: " + e; }
}
(async () => {
  const x = await xsrfOf(VICTIM + "api/status");
  let hx = "";  // the hub's pages carry their XSRF token (jhdata.xsrf_token)
  await attempt("hubpage", async () => {
    const m = (await (await fetch(HUB + "hub/token", {credentials: "include"})).text())
      .match(/xsrf_token: "([^"]+)"/);
    hx = m ? m[1] : "";
    return hx ? "token read" : "no token";
  });
  const json = {"Content-Type": "application/json"};
  await attempt("read", async () => {
    const r = await fetch(VICTIM + "api/contents/secret.txt", {credentials: "include"});
    return r.status + " " + (await r.text());
  });
  await attempt("write", async () => (await fetch(VICTIM + "api/contents/pwned.txt", {
    method: "PUT", credentials: "include", headers: {...json, "X-XSRFToken": x},
    body: JSON.stringify({type: "file", format: "text", content: "pwned"})})).status);
  await attempt("kernel", async () => (await fetch(VICTIM + "api/kernels", {
    method: "POST", credentials: "include", headers: {...json, "X-XSRFToken": x},
    body: JSON.stringify({name: "python3"})})).status);
  await attempt("token", async () => {
    const r = await fetch(HUB + "hub/api/users/admin/tokens", {
      method: "POST", credentials: "include", headers: {...json, "X-XSRFToken": hx},
      body: JSON.stringify({note: "pwned"})});
    return r.status + " " + (await r.text());
  });
  // Blind writes (no token, response unreadable) must be refused too.
  await attempt("blind", async () => (await fetch(VICTIM + "api/kernels", {
    method: "POST", mode: "no-cors", credentials: "include"})).type);
  window.cosimResults = out;
})();
</script></body></html>
"""


def _write_as(account: str, relpath: str, text: str) -> None:
    """Write a file in ``account``'s home as that account (what mallory does in a terminal)."""
    entry = pwd.getpwnam(account)
    subprocess.run(
        ["sh", "-c", 'mkdir -p "$(dirname "$1")" && cat > "$1"', "sh", relpath],
        input=text,
        text=True,
        user=entry.pw_uid,
        group=entry.pw_gid,
        extra_groups=[],
        cwd=entry.pw_dir,
        check=True,
    )


def _open_as_victim(page: Any, stack: CoSimStack, path: str) -> Any:
    """The victim opens mallory's page (the hub asks once whether to let her server in)."""
    page.goto(stack.public_url(path))
    if "oauth2/authorize" in page.url:
        page.click("form [type=submit]")
    page.wait_for_url(f"**/{path}", timeout=60_000)
    page.wait_for_function("window.cosimResults !== undefined", timeout=60_000)
    return page.evaluate("window.cosimResults")


def _admin_kernels(stack: CoSimStack) -> list[Any]:
    admin = stack.admin_client()
    admin.open_lab()
    return list(admin.request("GET", f"user/{stack.admin}/api/kernels").json())


def test_mallorys_page_cannot_act_as_its_visitor(
    cosim_stack: CoSimStack, cosim_context: Any
) -> None:
    stack = cosim_stack
    mallory, _ = stack.new_user(f"mallory{secrets.token_hex(2)}")
    account = unix_account_name(stack.account_prefix, mallory.user or "")

    # The victim: the admin, logged in to the hub and to their own Lab in this browser.
    page = cosim_context.new_page()
    lab_login(page, stack, stack.admin, stack.admin_password)
    secret = f"victim secret {secrets.token_hex(4)}"
    admin = stack.admin_client()
    admin.open_lab()
    resp = admin.request(
        "PUT",
        f"user/{stack.admin}/api/contents/secret.txt",
        data=json.dumps({"type": "file", "format": "text", "content": secret}),
    )
    assert resp.status_code in (200, 201), resp.text
    kernels_before = _admin_kernels(stack)

    # Mallory: her own server config, her page, a fresh start of her server.
    victim_base = stack.user_url(stack.admin)
    page_html = EVIL_PAGE % {"victim": json.dumps(victim_base), "hub": json.dumps(stack.url + "/")}
    mallory.spawn()  # creates her account and home
    port = free_port()
    _write_as(account, ".jupyter/jupyter_server_config.py", MALLORY_CONFIG % port)
    _write_as(account, "site/evil.html", page_html)
    mallory.stop()
    mallory.spawn()
    entry = pwd.getpwnam(account)
    web = subprocess.Popen(
        ["/usr/bin/python3", "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        user=entry.pw_uid,
        group=entry.pw_gid,
        extra_groups=[],
        cwd=f"{entry.pw_dir}/site",
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        results = _open_as_victim(page, stack, f"user/{mallory.user}/proxy/{port}/evil.html")
    finally:
        web.terminate()
        web.wait(timeout=10)

    # Nothing of the victim's reached the page, and nothing changed on the victim's side.
    assert secret not in str(results.get("read")), results
    files = admin.request("GET", f"user/{stack.admin}/api/contents/pwned.txt")
    assert files.status_code == 404, f"mallory's page wrote a victim file: {results}"
    assert len(_admin_kernels(stack)) == len(kernels_before), f"kernel started: {results}"
    tokens = admin.api("GET", f"users/{stack.admin}/tokens").json()
    notes = [t.get("note") for t in tokens.get("api_tokens", [])]
    assert "pwned" not in notes, f"mallory's page minted a hub token: {results}"
    mallory.stop()


def test_served_html_is_sandboxed_and_other_ports_closed(cosim_stack: CoSimStack) -> None:
    """CoSim's own server-side guards (which a user may lift on their own server only)."""
    owner, _ = cosim_stack.new_user(f"owner{secrets.token_hex(2)}")
    owner.spawn()
    owner.open_lab()
    base = f"user/{owner.user}"
    body = {"type": "file", "format": "text", "content": "<script>alert(1)</script>"}
    assert owner.request("PUT", f"{base}/api/contents/page.html", json=body).status_code == 201
    resp = owner.request("GET", f"{base}/files/page.html")
    assert resp.status_code == 200
    csp = [d.strip() for d in resp.headers["Content-Security-Policy"].split(";")]
    sandbox = [d for d in csp if d.startswith("sandbox")]
    assert sandbox and sandbox[0] == "sandbox", csp  # the first sandbox directive is obeyed
    # Arbitrary proxied ports are closed by default (CoSim's TensorBoard has its own route).
    port = free_port()
    for path in (f"proxy/{port}/", f"proxy/absolute/{port}/", f"proxy/localhost:{port}/"):
        resp = owner.request("GET", f"{base}/{path}", allow_redirects=False)
        assert resp.status_code == 403, (path, resp.status_code)
    owner.stop()
