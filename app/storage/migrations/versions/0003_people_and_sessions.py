"""Users, authorization codes, refresh tokens, the session key, post-logout redirect URIs.

Revision ID: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
LIVE = "revoked_at IS NULL"


def upgrade() -> None:
    with op.batch_alter_table("clients") as clients:
        clients.add_column(
            sa.Column("post_logout_redirect_uris", sa.Text, nullable=False, server_default="")
        )
    op.create_table(
        "users",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("username", sa.String(200), nullable=False),
        sa.Column("subject", sa.String(64), nullable=False),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("name", sa.String(200)),
        sa.Column("email", sa.String(320)),
        sa.Column("email_verified", sa.Boolean, nullable=False, server_default="0"),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("password_changed_at", sa.BigInteger, nullable=False),
        sa.Column("disabled_at", sa.BigInteger, nullable=True),
        sa.UniqueConstraint("username", name="uq_users_username"),
        sa.UniqueConstraint("subject", name="uq_users_subject"),
    )
    op.create_table(
        "authorization_codes",
        sa.Column("code_sha256", sa.LargeBinary(32), primary_key=True),
        sa.Column("client_id", sa.String(200), nullable=False),
        sa.Column("subject", sa.String(64), nullable=False),
        sa.Column("redirect_uri", sa.Text, nullable=False),
        sa.Column("scopes", sa.String(2000), nullable=False, server_default=""),
        sa.Column("nonce", sa.String(500)),
        sa.Column("code_challenge", sa.String(128)),
        sa.Column("code_challenge_method", sa.String(16)),
        sa.Column("auth_time", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
        sa.Column("redeemed_at", sa.BigInteger, nullable=True),
        sa.Column("issued_jti", sa.String(64)),
        sa.Column("issued_refresh_family", sa.String(64)),
    )
    op.create_index("ix_authorization_codes_expires_at", "authorization_codes", ["expires_at"])
    op.create_table(
        "refresh_tokens",
        sa.Column("token_sha256", sa.LargeBinary(32), primary_key=True),
        sa.Column("family_id", sa.String(64), nullable=False),
        sa.Column("client_id", sa.String(200), nullable=False),
        sa.Column("subject", sa.String(64), nullable=False),
        sa.Column("scopes", sa.String(2000), nullable=False, server_default=""),
        sa.Column("auth_time", sa.BigInteger, nullable=True),
        sa.Column("kid", sa.String(64), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
        sa.Column("used_at", sa.BigInteger, nullable=True),
        sa.Column("revoked_at", sa.BigInteger, nullable=True),
    )
    for name, column in (("family", "family_id"), ("kid", "kid")):
        op.create_index(
            f"ix_refresh_tokens_live_{name}",
            "refresh_tokens",
            [column],
            sqlite_where=sa.text(LIVE),
            postgresql_where=sa.text(LIVE),
        )
    op.create_index("ix_refresh_tokens_client_id", "refresh_tokens", ["client_id"])
    op.create_index("ix_refresh_tokens_subject", "refresh_tokens", ["subject"])
    op.create_table(
        "shared_secrets",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.LargeBinary(64), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    for table in ("shared_secrets", "refresh_tokens", "authorization_codes", "users"):
        op.drop_table(table)
    with op.batch_alter_table("clients") as clients:
        clients.drop_column("post_logout_redirect_uris")
