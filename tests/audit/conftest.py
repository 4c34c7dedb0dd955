"""A migrated database on each engine, and `tokenidp audit` pointed at it."""

from __future__ import annotations

import pytest
from audit_support import AuditCommand


@pytest.fixture
def audit(storage, database_url, config_dir):
    return AuditCommand(database_url, config_dir)
