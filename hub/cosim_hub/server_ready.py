"""Start returns when the user server answers, so the hub sees it ready at once.

After ``Spawner.start()`` JupyterHub checks the server's ``/api`` with a jittered exponential
backoff (waits drawn from 0-0.2, 0-0.4, 0-0.8, 0-1.6, 0-3.2 s, then 0-5 s). A local server answers
2-4 s after its start, when the waits are 1.6-5 s long, so the hub saw it 0.4-2.5 s late (seen:
the server logged "is running" at :58.72 and answered the hub's first check at :01.17) and the
user watched the spawn page that long for nothing. Checking every ``ready_poll_interval`` inside
``start()`` ends that: the hub's own first check comes right after and finds it answering.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from tornado.httpclient import AsyncHTTPClient, HTTPClientError
from traitlets import Float
from traitlets.config import Configurable


class ServerReadyMixin(Configurable):
    """Mixed into CoSimLocalSpawner: ``wait_until_answering`` after the process started."""

    # Provided by the spawner this is mixed into.
    if TYPE_CHECKING:

        async def poll(self) -> int | None: ...

    server: Any
    http_timeout: int
    start_timeout: int
    internal_ssl: bool

    ready_poll_interval = Float(
        0.05,
        help="""Seconds between checks, inside the spawner's start, whether the new server
        answers HTTP yet (the check the hub makes next). 0: no checks; the hub's own backoff
        (waits of up to 5 s) decides when the server is seen ready. A check of a server not yet
        listening is one refused connection.""",
    ).tag(config=True)

    async def wait_until_answering(self, ip: str, port: int, started: float) -> bool:
        """Wait until the server at ``ip:port`` answers its ``api`` URL as the hub's check
        does (any answer below 500) or ``http_timeout`` passes (and never past
        ``start_timeout`` from ``started``, the loop time start() began, which the hub enforces
        on all of start()); whether it answered. The hub's own check follows and decides.

        A server that exits first fails the spawn at once with a sentence the spawn page shows
        (the hub alone would wait out its http_timeout, 30 s, before saying anything)."""
        if self.ready_poll_interval <= 0 or self.internal_ssl or self.server is None:
            return False
        host = "127.0.0.1" if ip in ("", "0.0.0.0", "::") else ip  # as the hub connects
        url = f"http://{host}:{port}{self.server.base_url}api"
        client = AsyncHTTPClient()
        loop = asyncio.get_running_loop()
        deadline = min(loop.time() + self.http_timeout, started + 0.9 * self.start_timeout)
        while loop.time() < deadline:
            if await _answers(client, url, timeout=max(deadline - loop.time(), 0.1)):
                return True
            status = await self.poll()
            if status is not None:
                raise _exited(status)
            await asyncio.sleep(self.ready_poll_interval)
        return False


def _exited(status: int) -> RuntimeError:
    sentence = (
        f"Your server stopped while starting (exit status {status}); what it printed is in "
        "~/.cosim/logs/server.log."
    )
    error = RuntimeError(sentence)
    error.jupyterhub_message = sentence  # type: ignore[attr-defined]  # shown on the spawn page
    return error


async def _answers(client: AsyncHTTPClient, url: str, timeout: float) -> bool:
    try:
        await client.fetch(url, follow_redirects=False, request_timeout=timeout)
    except HTTPClientError as err:
        return err.code < 500  # 599: no connection yet
    except OSError:
        return False  # refused: not listening yet
    return True
