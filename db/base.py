"""Declarative base shared by every model, and the clock the catalog uses."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import DeclarativeBase


def now() -> datetime:
    """Naive UTC now (the catalog stores naive UTC)."""
    return datetime.now(UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    """Declarative base for every Enclave table (one metadata, one database)."""
