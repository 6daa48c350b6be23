"""The few hub REST calls the cost guard makes, with its own service token."""

from __future__ import annotations

import json
import os
from typing import Any
from urllib.parse import quote

from tornado.httpclient import AsyncHTTPClient, HTTPClientError


class HubAPI:
    def __init__(self, api_url: str | None = None, token: str | None = None) -> None:
        self.api_url = (api_url or os.environ["JUPYTERHUB_API_URL"]).rstrip("/")
        self.token = token or os.environ["JUPYTERHUB_API_TOKEN"]
        self.client = AsyncHTTPClient()

    async def _request(self, method: str, path: str, accept: str = "application/json") -> Any:
        resp = await self.client.fetch(
            f"{self.api_url}/{path}",
            method=method,
            headers={"Authorization": f"token {self.token}", "Accept": accept},
            request_timeout=20,
            allow_nonstandard_methods=True,
        )
        return json.loads(resp.body) if resp.body else None

    async def active_users(self) -> list[dict[str, Any]]:
        """Users with a running or pending server (paged through)."""
        users: list[dict[str, Any]] = []
        offset = 0
        while True:
            page = await self._request(
                "GET",
                f"users?state=active&offset={offset}&limit=200",
                accept="application/jupyterhub-pagination+json",
            )
            items = page["items"] if isinstance(page, dict) else page
            users.extend(items)
            if not isinstance(page, dict) or not page.get("_pagination", {}).get("next"):
                return users
            offset += len(items)

    async def stop_server(self, user: str, server: str) -> None:
        path = f"users/{quote(user)}/server"
        if server:
            path = f"users/{quote(user)}/servers/{quote(server)}"
        try:
            await self._request("DELETE", path)
        except HTTPClientError as err:
            if err.code not in (400, 404):  # already stopped / gone
                raise
