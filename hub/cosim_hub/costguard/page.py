"""The "CoSim usage" admin page: plain HTML from a usage report, a small script to set quotas."""

from __future__ import annotations

import json
import time
from html import escape
from typing import Any

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 24px; color: #222; }
table { border-collapse: collapse; margin: 8px 0 24px; }
th, td { border: 1px solid #ccc; padding: 4px 10px; text-align: left; }
th { background: #f3f3f3; }
.notice { color: #a94442; }
nav { margin-bottom: 12px; }
#quota-result { margin-left: 12px; }
"""

_SCRIPT = """
document.getElementById('quota-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = event.target;
  const num = (v) => (v.trim() === '' ? null : Number(v));
  const kind = form.kind.value, name = form.name.value.trim();
  const path = kind === 'cluster' ? 'cluster' : `${kind}/${encodeURIComponent(name)}`;
  const body = {gpu_limit: num(form.gpu_limit.value), spend_cap: num(form.spend_cap.value)};
  const resp = await fetch(`${BASE}api/quotas/${path}`, {
    method: 'PUT', body: JSON.stringify(body), credentials: 'same-origin',
    headers: {'Content-Type': 'application/json', 'X-XSRFToken': XSRF},
  });
  const reply = await resp.json().catch(() => ({}));
  document.getElementById('quota-result').textContent =
    resp.ok ? `saved ${reply.scope}` : `error: ${reply.message || resp.status}`;
  if (resp.ok) { setTimeout(() => location.reload(), 500); }
});
"""


def _money(value: float | None) -> str:
    return "no cap" if value is None else f"${value:.2f}"


def _table(headers: list[str], rows: list[list[str]], table_id: str) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    if not rows:
        body = f'<tr><td colspan="{len(headers)}">none</td></tr>'
    return f'<table id="{table_id}"><tr>{head}</tr>{body}</table>'


def render_page(
    report: dict[str, Any], xsrf: str, base: str, can_write: bool, hub_home: str = "/hub/home"
) -> str:
    now = time.time()
    servers = [
        [
            escape(s["user"]),
            escape(s["server"] or "(default)"),
            escape(s["profile"]),
            escape(s["group"]),
            str(s["gpus"]),
            f"${s['price_per_hour']:.2f}/h",
            f"{(now - s['started']) / 60:.1f} min",
            f'<span class="notice">{escape(s["notice"]["message"])}</span>' if s["notice"] else "",
        ]
        for s in report["servers"]
    ]
    spend = report["spend"]
    users = [[escape(u), _money(v)] for u, v in sorted(spend["users"].items())]
    groups = [[escape(g), _money(v)] for g, v in sorted(spend["groups"].items())]
    gpus = report["gpus"]
    quotas = report["quotas"]
    cluster_limit = (quotas.get("cluster") or {}).get("gpu_limit")
    gpu_rows = [["cluster", str(gpus["cluster"]), str(cluster_limit)]]
    gpu_rows += [[f"group {escape(g)}", str(n), ""] for g, n in sorted(gpus["groups"].items())]
    gpu_rows += [[f"user {escape(u)}", str(n), ""] for u, n in sorted(gpus["users"].items())]
    device_rows = [
        [escape(d["gpu"]), escape(d["server"] or "free"),
         "" if d["utilization"] is None else f"{d['utilization']:.0f} %",
         "" if d["memory_used_mb"] is None else f"{d['memory_used_mb']} MB"]
        for d in report.get("gpu_devices", [])
    ]  # fmt: skip
    quota_rows = [
        [escape(scope), str(q["gpu_limit"]), _money(q["spend_cap"])]
        for scope, q in sorted(quotas.items())
    ]
    refused = [[escape(r), str(n)] for r, n in sorted(report["refused"].items())]
    form = ""
    if can_write:
        form = """
<h2>Set a quota</h2>
<form id="quota-form">
  <select name="kind"><option>user</option><option>group</option><option>default</option>
  <option>cluster</option></select>
  <input name="name" placeholder="name (user, group, or user/group for default)">
  <input name="gpu_limit" placeholder="GPU limit (empty: none)">
  <input name="spend_cap" placeholder="monthly cap (empty: none)">
  <button type="submit">Save</button><span id="quota-result"></span>
</form>"""
    meter = report["meter"]
    age = "never" if meter["age"] is None else f"{meter['age']:.0f} s ago"
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>CoSim usage</title><style>{_STYLE}</style></head>
<body>
<nav><a id="hub-home" href="{escape(hub_home)}">&larr; Back to the hub</a></nav>
<h1>CoSim usage — {escape(report["month"])}</h1>
<p>Total spend this month: <strong id="total-spend">{_money(spend["total"])}</strong>
({escape(report["currency"])}). Meter: every {meter["interval"]:.0f} s, last pass {age}.</p>
<h2>Running servers</h2>
{
        _table(
            ["user", "server", "profile", "group", "GPUs", "price", "running", "notice"],
            servers,
            "servers",
        )
    }
<h2>GPUs in use</h2>
{_table(["scope", "in use", "limit"], gpu_rows, "gpus")}
<h2>GPU devices</h2>
{_table(["GPU", "held by", "utilisation", "memory"], device_rows, "gpu-devices")}
<h2>Spend per user</h2>
{_table(["user", "spend"], users, "spend-users")}
<h2>Spend per group</h2>
{_table(["group", "spend"], groups, "spend-groups")}
<h2>Quotas</h2>
{_table(["scope", "GPU limit", "monthly cap"], quota_rows, "quotas")}
<h2>Refused spawns</h2>
{_table(["reason", "count"], refused, "refused")}
{form}
<script>const BASE = {json.dumps(base)}; const XSRF = {json.dumps(xsrf)};</script>
<script>{_SCRIPT if can_write else ""}</script>
</body></html>"""
