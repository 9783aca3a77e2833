"""Shared fixtures: a clean settings object, and unique names for test isolation."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest


@pytest.fixture
def unique() -> Callable[[str], str]:
    """Names no other test uses: ``unique("topic")`` -> ``topic-1a2b3c4d``."""

    def make(prefix: str) -> str:
        return f"{prefix}-{uuid.uuid4().hex[:8]}"

    return make
