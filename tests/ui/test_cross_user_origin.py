"""A page that mallory serves, opened by another user in Chromium, cannot act as that user.

The attack of issue 17: mallory serves HTML from her own server; the admin (who may open any
server) opens it. Mallory controls everything her server runs, so she first turns off the
server-side guards in her own ~/.jupyter config (files/ sandbox, proxied ports): what must hold
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

from cosim_hub.spawner import unix_account_name
from cosim_hub.stack import CoSimStack
from cosim_server.pytest_plugin import lab_login

# Mallory's own server config: no files/ sandbox (she may set it, it is her server).
MALLORY_CONFIG = (
    "c.FileContentsManager.files_handler_class = "
    "'jupyter_server.base.handlers.AuthenticatedFileHandler'\n"
)

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
  const hx = await xsrfOf(HUB + "hub/token");
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
    _write_as(account, ".jupyter/jupyter_server_config.py", MALLORY_CONFIG)
    _write_as(account, "evil.html", page_html)
    mallory.stop()
    mallory.spawn()

    # The victim opens mallory's page (the hub asks once whether to let mallory's server in).
    page.goto(stack.public_url(f"user/{mallory.user}/files/evil.html"))
    if "oauth2/authorize" in page.url:
        page.click("form [type=submit]")
    page.wait_for_url(f"**/user/{mallory.user}/files/evil.html", timeout=60_000)
    page.wait_for_function("window.cosimResults !== undefined", timeout=60_000)
    results = page.evaluate("window.cosimResults")

    # Nothing of the victim's reached the page, and nothing changed on the victim's side.
    assert secret not in str(results.get("read")), results
    files = admin.request("GET", f"user/{stack.admin}/api/contents/pwned.txt")
    assert files.status_code == 404, f"mallory's page wrote a victim file: {results}"
    assert len(_admin_kernels(stack)) == len(kernels_before), f"kernel started: {results}"
    tokens = admin.api("GET", f"users/{stack.admin}/tokens").json()
    notes = [t.get("note") for t in tokens.get("api_tokens", [])]
    assert "pwned" not in notes, f"mallory's page minted a hub token: {results}"
    mallory.stop()
