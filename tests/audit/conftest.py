"""A migrated database on each engine, and `tokenidp audit` pointed at it."""

from __future__ import annotations

import pytest
from audit_support import AuditCommand

from app.storage import Storage
from app.storage.engine import create_storage_engine
from app.storage.migrate import upgrade


@pytest.fixture
def storage(database_url):
    engine = create_storage_engine(database_url)
    upgrade(engine)
    yield Storage(engine)
    engine.dispose()


@pytest.fixture
def audit(storage, database_url, config_dir):
    return AuditCommand(database_url, config_dir)
