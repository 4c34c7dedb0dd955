"""Key lifecycle records: observations at JwksUri, revocations, when keys signed, emergency
activations, instance heartbeats and emergency rollovers.

Revision ID: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "key_observations",
        sa.Column("kid", sa.String(64), primary_key=True),
        sa.Column("first_observed_at", sa.BigInteger, nullable=False),
        sa.Column("observed_by", sa.String(32), nullable=False),
        sa.Column("jwks_uri", sa.Text, nullable=False),
    )
    op.create_table(
        "key_revocations",
        sa.Column("kid", sa.String(64), primary_key=True),
        sa.Column("revoked_at", sa.BigInteger, nullable=False),
        sa.Column("revoked_by", sa.String(200), nullable=False),
        sa.Column("reason", sa.String(500)),
    )
    op.create_table(
        "key_signing",
        sa.Column("kid", sa.String(64), primary_key=True),
        sa.Column("first_signed_at", sa.BigInteger, nullable=False),
        sa.Column("last_signed_at", sa.BigInteger, nullable=False),
    )
    # Keys that signed before this revision, from their `key.activated` events: the
    # deployment's first key is behind it, and they stay eligible to sign.
    op.execute(
        "INSERT INTO key_signing (kid, first_signed_at, last_signed_at) "
        "SELECT kid, MIN(occurred_at), MAX(occurred_at) FROM audit_events "
        "WHERE event = 'key.activated' AND kid IS NOT NULL GROUP BY kid"
    )
    op.create_table(
        "key_emergency_activations",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("kid", sa.String(64), nullable=False),
        sa.Column("activated_at", sa.BigInteger, nullable=False),
        sa.Column("activated_by", sa.String(200), nullable=False),
        sa.Column("reason", sa.String(500)),
    )
    op.create_table(
        "instances",
        sa.Column("instance_id", sa.String(200), primary_key=True),
        sa.Column("host", sa.String(200), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("started_at", sa.BigInteger, nullable=False),
        sa.Column("heartbeat_at", sa.BigInteger, nullable=False),
        sa.Column("signing_kid", sa.String(64)),
        sa.Column("jwks_sha256", sa.String(64), nullable=False),
        sa.Column("published_kids", sa.Text, nullable=False),
    )
    op.create_table(
        "rollovers",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("compromised_kid", sa.String(64), nullable=False),
        sa.Column("replacement_kid", sa.String(64), nullable=False),
        sa.Column("revoke", sa.String(16), nullable=False),
        sa.Column("started_at", sa.BigInteger, nullable=False),
        sa.Column("completed_at", sa.BigInteger, nullable=True),
        sa.Column("steps", sa.Text, nullable=False, server_default="{}"),
        sa.Column("started_by", sa.String(200), nullable=False),
    )


def downgrade() -> None:
    for table in (
        "rollovers",
        "instances",
        "key_emergency_activations",
        "key_signing",
        "key_revocations",
        "key_observations",
    ):
        op.drop_table(table)
