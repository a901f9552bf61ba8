"""Decision-test fixtures: Acme with the lending pack published (olivia authors, bob approves)."""

import pytest

from decisions.packs.install import pack_install
from dos import scope
from tests.factories import default_project


@pytest.fixture
def lending(acme, olivia, bob):
    with scope.org_scope(acme.id):
        [version] = pack_install(project=default_project(acme), domain="lending_brokerage", author=olivia, approver=bob)
    return version
