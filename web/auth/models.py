"""Accounts, group membership, API tokens, the audit log and answer evidence (SQLAlchemy 2.0).

The tables live in the catalog's metadata (``retrieval.catalog.Base``) so one database holds
everything; groups are retrieval's :class:`retrieval.acl.Group`. The audit log and the answer
evidence are append-only: the database itself refuses UPDATE and DELETE on them (triggers on
SQLite and PostgreSQL), so not even a bug in this code can rewrite history.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DDL, Boolean, ForeignKey, Integer, String, Text, event
from sqlalchemy.orm import Mapped, mapped_column

from retrieval.catalog import Base

ROLES = ("admin", "curator", "reader")


def now() -> datetime:
    """Naive UTC now (the catalog stores naive UTC)."""
    return datetime.now(UTC).replace(tzinfo=None)


class User(Base):
    """A person who can log in: a local password or an LDAP directory entry.

    ``session_version`` is part of the session cookie's user id: bumping it (password
    change, disable, role change) logs out every existing session at its next request.
    """

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(200), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str | None] = mapped_column(String(255), default=None)
    source: Mapped[str] = mapped_column(String(16), default="local")  # local | ldap
    ldap_dn: Mapped[str | None] = mapped_column(Text, default=None)
    role: Mapped[str] = mapped_column(String(16), default="reader")
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    session_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=now)
    last_login_at: Mapped[datetime | None] = mapped_column(default=None)


class GroupMember(Base):
    """User ``user_id`` belongs to group ``group_id``; ``origin`` says who put it there.

    LDAP logins replace the user's ``ldap`` rows with the directory's groups; ``local`` rows
    are an admin's and survive logins.
    """

    __tablename__ = "acl_group_members"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                         primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("acl_groups.id", ondelete="CASCADE"),
                                          primary_key=True, index=True)
    origin: Mapped[str] = mapped_column(String(16), default="local")


class ApiToken(Base):
    """A bearer token for the JSON API: only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=now)
    expires_at: Mapped[datetime] = mapped_column()
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class LoginSession(Base):
    """One browser login; the cookie carries only a random id whose SHA-256 is this row's key.

    Logging out revokes the row, so a copied cookie stops working at once; disabling a user or
    changing the password bumps ``User.session_version`` and ends every session of the user.
    """

    __tablename__ = "login_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    user_version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=now)
    expires_at: Mapped[datetime] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    ip: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(300), default="")


class AuditEvent(Base):
    """One security-relevant event: who did what to which object, from where. Append-only."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=now, index=True)
    actor: Mapped[str] = mapped_column(String(200))  # a user name: survives the user row
    action: Mapped[str] = mapped_column(String(64), index=True)
    target: Mapped[str] = mapped_column(Text, default="")
    detail: Mapped[str] = mapped_column(Text, default="{}")  # JSON object
    ip: Mapped[str] = mapped_column(String(64), default="")
    outcome: Mapped[str] = mapped_column(String(16), default="ok")  # ok | denied | failed


class Conversation(Base):
    """A user's thread of questions over one collection (its turns are answer records)."""

    __tablename__ = "conversations"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    collection: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=now)


class AnswerRecord(Base):
    """The evidence behind one answer; append-only.

    Who asked what, what was retrieved and cited, by which model, when.

    ``retrieved`` and ``cited`` are JSON lists of ``{chunk_id, document_id, document,
    version, content_hash, score}`` (``cited`` adds the citation number and quote span).
    """

    __tablename__ = "answer_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=now, index=True)
    user_id: Mapped[int] = mapped_column(Integer, index=True)
    username: Mapped[str] = mapped_column(String(200))
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"), index=True)
    collection: Mapped[str] = mapped_column(String(100))
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    abstained: Mapped[bool] = mapped_column(Boolean, default=False)
    mode: Mapped[str] = mapped_column(String(16), default="")
    model_name: Mapped[str] = mapped_column(String(200), default="")
    model_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    retrieved: Mapped[str] = mapped_column(Text, default="[]")
    cited: Mapped[str] = mapped_column(Text, default="[]")


APPEND_ONLY = ("audit_events", "answer_records")


def _append_only(table: str) -> None:
    for op in ("UPDATE", "DELETE"):
        event.listen(
            Base.metadata.tables[table], "after_create",
            DDL(f"CREATE TRIGGER {table}_no_{op.lower()} BEFORE {op} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END").execute_if(
                dialect="sqlite"),
        )
    event.listen(
        Base.metadata.tables[table], "after_create",
        DDL(f"CREATE OR REPLACE FUNCTION {table}_append_only() RETURNS trigger AS $$ BEGIN "
            f"RAISE EXCEPTION '{table} is append-only'; END; $$ LANGUAGE plpgsql; "
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {table}_append_only()").execute_if(
            dialect="postgresql"),
    )


for _table in APPEND_ONLY:
    _append_only(_table)
