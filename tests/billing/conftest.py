"""The people of the finance back office tests: fiona (platform finance, across orgs) and bill (Acme's
billing admin, in Acme only). Modules that need fiona as a service principal define their own."""

from __future__ import annotations

import pytest

from tenancy.models import PlatformRole
from tests.factories import UserFactory, add_member


@pytest.fixture
def fiona(db):
    """Platform finance, as the admin signs her in."""
    user = UserFactory(email="fiona@decisionos.example")
    PlatformRole.objects.create(user=user, role="platform_finance")
    return user


@pytest.fixture
def bill(acme):
    """Acme's billing admin."""
    user = UserFactory(email="bill@acme.example")
    add_member(acme, user, "billing_admin")
    return user
