"""Conversations, answer evidence records and the feedback on answers.

Answer records are append-only: the database refuses UPDATE and DELETE on them (triggers on
SQLite and PostgreSQL, created by the first migration), like the audit log. Feedback lives in
a table of its own (one row per answer record, replaced when its owner rates again), so the
records stay untouched.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal, get_args

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, now


class Conversation(Base):
    """A user's thread of questions (its turns are answer records).

    ``collection`` is its scope: a collection's name, several joined by commas, or ``*`` for
    every collection its owner may read (services/ask.py: ``scope_label``).
    """

    __tablename__ = "conversations"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    collection: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=now)
    #: When its owner deleted it (NULL: not deleted). Its answer records stay (append-only
    #: evidence); a deleted conversation is left out of the owner's list and opens as a 404.
    deleted_at: Mapped[datetime | None] = mapped_column(default=None)


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
    #: The model's preset (generation.preset; NULL: a file by path, or records before 0009).
    model_preset: Mapped[str | None] = mapped_column(String(100), default=None)
    #: llamacpp (in-process GGUF) or openai (a model server); NULL before 0009.
    model_backend: Mapped[str | None] = mapped_column(String(32), default=None)
    #: The model's licence (the preset's, and the GGUF file's own where it differs).
    model_licence: Mapped[str | None] = mapped_column(String(200), default=None)
    retrieved: Mapped[str] = mapped_column(Text, default="[]")
    cited: Mapped[str] = mapped_column(Text, default="[]")
    #: The standalone query a follow-up was searched with (NULL: searched as asked).
    search_query: Mapped[str | None] = mapped_column(Text, default=None)
    #: What became of the model's draft: kept, replaced, skipped (NULL: no draft; before 0012).
    draft: Mapped[str | None] = mapped_column(String(16), default=None)


Rating = Literal["up", "down"]
RATINGS: tuple[str, ...] = get_args(Rating)


class AnswerFeedback(Base):
    """The asker's thumbs up or down on one answer, with an optional comment.

    Keyed by the answer record: one rating per answer, replaced when its owner rates again
    (``created_at`` is the first rating, ``updated_at`` the latest).
    """

    __tablename__ = "answer_feedback"
    __table_args__ = (
        CheckConstraint("rating IN ('up', 'down')", name="ck_answer_feedback_rating"),
        Index("ix_answer_feedback_rating_updated_at", "rating", "updated_at"),
    )

    record_id: Mapped[int] = mapped_column(ForeignKey("answer_records.id"), primary_key=True,
                                           autoincrement=False)
    user_id: Mapped[int] = mapped_column(Integer)
    rating: Mapped[str] = mapped_column(String(8))
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=now)
    updated_at: Mapped[datetime] = mapped_column(default=now)
