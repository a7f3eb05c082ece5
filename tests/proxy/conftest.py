"""The proxy's tests: a fresh rig of backends and a proxy per test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.proxy.rig import Rig


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    built = Rig()
    yield built
    await built.close()
