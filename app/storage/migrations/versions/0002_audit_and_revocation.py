"""The append-only audit log, and access-token revocation rules.

The database itself refuses UPDATE and DELETE on audit_events (and TRUNCATE on
PostgreSQL); the one way to delete is `tokenidp audit prune`, which writes a permit for
rows older than a date, deletes them and removes the permit in one transaction.

Revision ID: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

SQLITE_TRIGGERS = (
    """CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
    BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END""",
    """CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
    WHEN NOT EXISTS (SELECT 1 FROM audit_prune_permits WHERE OLD.occurred_at < "before")
    BEGIN SELECT RAISE(ABORT, 'audit_events is append-only: tokenidp audit prune deletes'); END""",
)
POSTGRESQL_TRIGGERS = (
    """CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'DELETE' AND EXISTS (
            SELECT 1 FROM audit_prune_permits WHERE OLD.occurred_at < "before"
        ) THEN
            RETURN OLD;
        END IF;
        RAISE EXCEPTION 'audit_events is append-only: tokenidp audit prune deletes';
    END $$""",
    """CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()""",
    """CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()""",
)


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("occurred_at", sa.BigInteger, nullable=False),
        sa.Column("event", sa.String(64), nullable=False),
        sa.Column("actor", sa.String(200)),
        sa.Column("client_id", sa.String(200)),
        sa.Column("subject", sa.String(200)),
        sa.Column("kid", sa.String(64)),
        sa.Column("jti", sa.String(64)),
        sa.Column("grant_type", sa.String(64)),
        sa.Column("scopes", sa.String(2000)),
        sa.Column("address", sa.String(64)),
        sa.Column("reason", sa.String(500)),
        sa.Column("detail", sa.Text),
    )
    for columns in (["occurred_at"], ["client_id", "occurred_at"]):
        op.create_index(f"ix_audit_events_{'_'.join(columns)}", "audit_events", columns)
    op.create_table(
        "audit_prune_permits",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("before", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "revocation_rules",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("value", sa.String(200), nullable=True),
        sa.Column("issued_before", sa.BigInteger, nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
        sa.Column("created_by", sa.String(200)),
        sa.Column("reason", sa.String(500)),
    )
    op.create_index("ix_revocation_rules_kind_value", "revocation_rules", ["kind", "value"])
    op.create_index("ix_revocation_rules_expires_at", "revocation_rules", ["expires_at"])
    triggers = SQLITE_TRIGGERS if op.get_bind().dialect.name == "sqlite" else POSTGRESQL_TRIGGERS
    for statement in triggers:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TABLE audit_events")
        op.execute("DROP FUNCTION audit_events_append_only()")
    else:
        op.drop_table("audit_events")
    op.drop_table("audit_prune_permits")
    op.drop_table("revocation_rules")
