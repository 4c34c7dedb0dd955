"""The tables, as SQLAlchemy Core: the migrations create them, the repositories query them.

Times are whole seconds since the epoch (UTC), as in a JWT's `iat` and `exp`, so a rule
like "issued before T" is an integer comparison on every engine. Secrets are never
stored: a client secret is kept as its SHA-256 digest.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    text,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)
# BIGINT ids on PostgreSQL; SQLite's rowid alias must be INTEGER.
Id = BigInteger().with_variant(Integer(), "sqlite")

clients = Table(
    "clients",
    metadata,
    Column("client_id", String(200), primary_key=True),
    Column("grant_types", String(500), nullable=False),  # space-separated
    Column("scopes", String(2000), nullable=False, server_default=""),  # space-separated
    Column("redirect_uris", Text, nullable=False, server_default=""),  # one per line
    Column("post_logout_redirect_uris", Text, nullable=False, server_default=""),  # one per line
    Column("is_public", Boolean, nullable=False, server_default="0"),
    Column("created_at", BigInteger, nullable=False),
    Column("disabled_at", BigInteger, nullable=True),
)

client_secrets = Table(
    "client_secrets",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column(
        "client_id",
        String(200),
        ForeignKey("clients.client_id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("sha256_digest", LargeBinary(32), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    # Set when the secret is rotated out: it keeps working until then (the overlap).
    Column("expires_at", BigInteger, nullable=True),
)

audit_events = Table(
    "audit_events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("occurred_at", BigInteger, nullable=False),
    Column("event", String(64), nullable=False),
    Column("actor", String(200)),
    Column("client_id", String(200)),
    Column("subject", String(200)),
    Column("kid", String(64)),
    Column("jti", String(64)),
    Column("grant_type", String(64)),
    Column("scopes", String(2000)),
    Column("address", String(64)),
    Column("reason", String(500)),
    Column("detail", Text),  # JSON of allow-listed fields only (app/audit/events.py)
    # Every query reads a time window; each index costs about 1 µs an insert, and one row
    # is inserted per token, so there are only these two.
    Index(None, "occurred_at"),
    Index(None, "client_id", "occurred_at"),
)

# The audit triggers let a DELETE through only for rows older than a permit `tokenidp audit
# prune` writes, uses and removes in one transaction; UPDATE is never allowed.
audit_prune_permits = Table(
    "audit_prune_permits",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("before", BigInteger, nullable=False),
)

revocation_rules = Table(
    "revocation_rules",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),  # jti, client, subject, kid, all
    Column("value", String(200), nullable=True),  # None for kind "all"
    # Covers tokens issued (iat) before this time; None covers any (a jti names one token).
    Column("issued_before", BigInteger, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    # Every token the rule covers has expired by then: the rule can be dropped.
    Column("expires_at", BigInteger, nullable=False),
    Column("created_by", String(200)),
    Column("reason", String(500)),
    Index(None, "kind", "value"),
    Index(None, "expires_at"),
)

users = Table(
    "users",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("username", String(200), nullable=False, unique=True),
    # The `sub` of this user's tokens: random, never reused, never the username.
    Column("subject", String(64), nullable=False, unique=True),
    Column("password_hash", Text, nullable=False),  # argon2id, with its parameters
    Column("name", String(200)),
    Column("email", String(320)),
    Column("email_verified", Boolean, nullable=False, server_default="0"),
    Column("created_at", BigInteger, nullable=False),
    Column("password_changed_at", BigInteger, nullable=False),
    Column("disabled_at", BigInteger, nullable=True),
)

authorization_codes = Table(
    "authorization_codes",
    metadata,
    Column("code_sha256", LargeBinary(32), primary_key=True),  # never the code itself
    Column("client_id", String(200), nullable=False),
    Column("subject", String(64), nullable=False),
    Column("redirect_uri", Text, nullable=False),
    Column("scopes", String(2000), nullable=False, server_default=""),
    Column("nonce", String(500)),
    Column("code_challenge", String(128)),
    Column("code_challenge_method", String(16)),
    Column("auth_time", BigInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("redeemed_at", BigInteger, nullable=True),
    # What the redemption issued, so a second redemption can revoke it (RFC 6749 §4.1.2).
    Column("issued_jti", String(64)),
    Column("issued_refresh_family", String(64)),
    Index(None, "expires_at"),
)

refresh_tokens = Table(
    "refresh_tokens",
    metadata,
    Column("token_sha256", LargeBinary(32), primary_key=True),  # never the token itself
    Column("family_id", String(64), nullable=False),
    Column("client_id", String(200), nullable=False),
    Column("subject", String(64), nullable=False),
    Column("scopes", String(2000), nullable=False, server_default=""),
    Column("auth_time", BigInteger, nullable=True),
    # The key that signed the tokens issued with this refresh token.
    Column("kid", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("used_at", BigInteger, nullable=True),
    Column("revoked_at", BigInteger, nullable=True),
    # Revocation sweeps by family (reuse) and by kid (a compromised key) touch live rows only.
    Index(
        "ix_refresh_tokens_live_family",
        "family_id",
        sqlite_where=text("revoked_at IS NULL"),
        postgresql_where=text("revoked_at IS NULL"),
    ),
    Index(
        "ix_refresh_tokens_live_kid",
        "kid",
        sqlite_where=text("revoked_at IS NULL"),
        postgresql_where=text("revoked_at IS NULL"),
    ),
    Index(None, "client_id"),
    Index(None, "subject"),
)

# Secrets the instances of one deployment share and the IdP generates itself: the key that
# signs the login session cookie and its CSRF tokens. Never in the audit log or a response.
shared_secrets = Table(
    "shared_secrets",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", LargeBinary(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

# The key lifecycle's records (app/keys/records.py): what every instance reads, so instances
# sharing a database sign with the same key and publish the same JWKS.
key_observations = Table(
    "key_observations",
    metadata,
    Column("kid", String(64), primary_key=True),
    # First seen at TokenOptions:JwksUri (the CDN's, usually): validators can have it since.
    Column("first_observed_at", BigInteger, nullable=False),
    Column("observed_by", String(32), nullable=False),  # publisher, or idp (its own JWKS)
    Column("jwks_uri", Text, nullable=False),
)

key_revocations = Table(
    "key_revocations",
    metadata,
    Column("kid", String(64), primary_key=True),
    Column("revoked_at", BigInteger, nullable=False),
    Column("revoked_by", String(200), nullable=False),
    Column("reason", String(500)),
)

# When each key first and last signed (heartbeats of the instances signing with it): the
# first key a deployment uses needs no observation, and a retired key's last signature
# says when it is safe to remove.
key_signing = Table(
    "key_signing",
    metadata,
    Column("kid", String(64), primary_key=True),
    Column("first_signed_at", BigInteger, nullable=False),
    Column("last_signed_at", BigInteger, nullable=False),
)

# An explicit activation that skips the wait for observation; the latest one holds.
key_emergency_activations = Table(
    "key_emergency_activations",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("kid", String(64), nullable=False),
    Column("activated_at", BigInteger, nullable=False),
    Column("activated_by", String(200), nullable=False),
    Column("reason", String(500)),
)

# One row per running instance (a gunicorn worker), refreshed every keyring interval.
instances = Table(
    "instances",
    metadata,
    Column("instance_id", String(200), primary_key=True),
    Column("host", String(200), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started_at", BigInteger, nullable=False),
    Column("heartbeat_at", BigInteger, nullable=False),
    Column("signing_kid", String(64)),
    Column("jwks_sha256", String(64), nullable=False),
    Column("published_kids", Text, nullable=False),  # space-separated
)

# `tokenidp keys emergency-rollover`: which steps are done, so a second run resumes.
rollovers = Table(
    "rollovers",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("compromised_kid", String(64), nullable=False),
    Column("replacement_kid", String(64), nullable=False),
    Column("revoke", String(16), nullable=False),
    Column("started_at", BigInteger, nullable=False),
    Column("completed_at", BigInteger, nullable=True),
    Column("steps", Text, nullable=False, server_default="{}"),  # JSON: step -> seconds
    Column("started_by", String(200), nullable=False),
)
