"""The privacy officers of Acme in the privacy tests: priya and pedro (four eyes need two)."""

from __future__ import annotations

import pytest

from tests.privacy.dsar_world import officer


@pytest.fixture
def priya(acme):
    return officer(acme, "priya@acme.example")


@pytest.fixture
def pedro(acme):
    return officer(acme, "pedro@acme.example")
