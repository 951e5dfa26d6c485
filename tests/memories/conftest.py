"""Fixtures for the parent's memory pages: memories written through the services."""

import secrets

import pytest

from memories import services


@pytest.fixture
def marker():
    """A string no other test writes: searched for in every store after a deletion."""
    return f"zq{secrets.token_hex(6)}"


@pytest.fixture
def remember(family):
    """Add a memory to child A's toy as parent A would."""

    def _remember(text, *, category=None, child=None, device=None, actor=None):
        return services.memory_add(actor=actor or family.parent_a, child=child or family.child_a,
                                   device=device or family.device_a, text=text, category=category)

    return _remember


@pytest.fixture
def foreign(family, gw):
    """A memory of household B's child."""
    return gw.add(family.device_b.namespace, "Mia's secret: the key is under the red flowerpot", {})
