"""Hub fixtures: a local OIDC provider process and a ``cosim up`` stack that logs in through it.

- ``oidc_provider`` (module): oidc-provider-mock with the users in ``oidc_testing.OIDC_USERS``;
  tokens live ``TOKEN_AGE`` seconds and the hub refreshes them ``REFRESH_MARGIN`` s before expiry.
- ``oidc_stack`` (module): ``cosim up`` in OIDC mode against that provider.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from oidc_testing import OIDC_USERS, REFRESH_MARGIN, TOKEN_AGE

from cosim_testing.oidc_provider import OIDCProvider, start_oidc_provider, start_oidc_stack
from cosim_testing.stack import CoSimStack, stop_cosim_up


@pytest.fixture(scope="module")
def oidc_provider() -> Iterator[OIDCProvider]:
    provider = start_oidc_provider(OIDC_USERS, token_max_age=TOKEN_AGE)
    yield provider
    provider.stop()


@pytest.fixture(scope="module")
def oidc_stack(oidc_provider: OIDCProvider) -> Iterator[CoSimStack]:
    stack = start_oidc_stack(oidc_provider, refresh_interval=1, refresh_margin=REFRESH_MARGIN)
    yield stack
    survivors = stop_cosim_up(stack)
    shutil.rmtree(stack.state_dir.parent, ignore_errors=True)
    assert survivors == [], f"processes outlived cosim up: {survivors}"
