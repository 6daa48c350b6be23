"""The block list and revocation times: the Redis store and the in-process one behave alike."""

from __future__ import annotations

import asyncio

import pytest

from cosim_hub.revocation import MemoryRevocationList, RedisRevocationList, RevocationList


@pytest.fixture(params=["memory", "redis"])
def revocations(request: pytest.FixtureRequest) -> RevocationList:
    if request.param == "memory":
        return MemoryRevocationList()
    return RedisRevocationList(request.getfixturevalue("cosim_redis_url"))


def test_block_unblock_and_revocation_times(revocations: RevocationList) -> None:
    async def scenario() -> None:
        assert not await revocations.is_blocked("ann")
        await revocations.block("ann")
        await revocations.block("ann")
        assert await revocations.is_blocked("ann")
        assert await revocations.blocked() == {"ann"}
        await revocations.unblock("ann")
        assert await revocations.blocked() == set()

        assert await revocations.revoked_at("ann") == 0.0
        assert await revocations.mark_revoked("ann", at=100.0) == 100.0
        # Times only move forward: a late, older revocation never re-admits old sessions.
        assert await revocations.mark_revoked("ann", at=50.0) == 100.0
        assert await revocations.revoked_at("ann") == 100.0
        assert await revocations.revoked_at("bob") == 0.0
        if isinstance(revocations, RedisRevocationList):
            await revocations.close()

    asyncio.run(scenario())
