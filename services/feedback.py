"""Feedback on answers: the asker's thumbs up or down, and the admins' review of it.

A rating belongs to one answer evidence record (``evidence_id`` of the ask API) and only the
person who asked may give it; rating again replaces the earlier rating and comment. The
records stay append-only: feedback is kept in ``answer_feedback``, one row per record.
Admins list the rated answers (the low-rated ones by default) with the question, the answer
and the passages it cited, and export them as CSV or JSON lines (the export is audited).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from db.models import RATINGS, AnswerFeedback, AnswerRecord, now
from services import access, audit
from services.actor import Actor
from services.admin import Export
from services.errors import Invalid

MAX_COMMENT = 2000
MAX_PAGE = 200
RatingFilter = Literal["up", "down", "all"]
FEEDBACK_FIELDS = ("evidence_id", "rated_at", "rating", "comment", "username", "collection",
                   "question", "answer", "abstained", "mode", "model", "asked_at", "cited",
                   "retrieved")


@dataclass(frozen=True, slots=True)
class Rated:
    """A rating as stored."""

    evidence_id: int
    rating: str
    comment: str
    rated_at: str


@dataclass(frozen=True, slots=True)
class RatedAnswer:
    """A rated answer with its evidence: what was asked, answered and cited, and the rating."""

    evidence_id: int
    rated_at: str
    rating: str
    comment: str
    username: str
    collection: str
    question: str
    answer: str
    abstained: bool
    mode: str
    model: str
    asked_at: str
    cited: list[dict[str, Any]]
    retrieved: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class RatedPage:
    """One page of rated answers, newest rating first."""

    rating: str
    total: int
    limit: int
    offset: int
    items: list[RatedAnswer]


def _iso(at: datetime) -> str:
    return at.isoformat() + "Z"


def _rated_answer(fb: AnswerFeedback, rec: AnswerRecord) -> RatedAnswer:
    return RatedAnswer(
        evidence_id=rec.id, rated_at=_iso(fb.updated_at), rating=fb.rating, comment=fb.comment,
        username=rec.username, collection=rec.collection, question=rec.question,
        answer=rec.answer, abstained=rec.abstained, mode=rec.mode, model=rec.model_name,
        asked_at=_iso(rec.at), cited=json.loads(rec.cited), retrieved=json.loads(rec.retrieved),
    )


def own_ratings(db: Session, user_id: int | None, record_ids: list[int]) -> dict[int, Rated]:
    """The ratings ``user_id`` gave to the answers ``record_ids``, by answer (nobody else's)."""
    if user_id is None or not record_ids:
        return {}
    rows = db.scalars(select(AnswerFeedback).where(AnswerFeedback.record_id.in_(record_ids),
                                                   AnswerFeedback.user_id == user_id))
    return {fb.record_id: Rated(fb.record_id, fb.rating, fb.comment, _iso(fb.updated_at))
            for fb in rows}


def _check(rating: str, comment: str | None) -> str:
    if rating not in RATINGS:
        raise Invalid(f"must be one of {', '.join(RATINGS)}", field="rating")
    text = (comment or "").strip()
    if len(text) > MAX_COMMENT:
        raise Invalid(f"must be at most {MAX_COMMENT} characters", field="comment")
    if "\x00" in text:
        raise Invalid("must not contain NUL bytes", field="comment")
    return text


class Feedback:
    """Ratings by the askers; the review and export for admins."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def rate(self, actor: Actor, evidence_id: int, rating: str,
             comment: str | None = None) -> Rated:
        """Rate one of the actor's own answers (``up``/``down``); replaces an earlier rating.

        Anyone else's answer is the same :class:`NotFound` as an unknown id.
        """
        text = _check(rating, comment)
        for attempt in (1, 2):
            with self._sessions() as db:
                rec = access.own_answer(db, actor, evidence_id)
                stamp = now()
                row = db.get(AnswerFeedback, rec.id)
                if row is None:
                    row = AnswerFeedback(record_id=rec.id, user_id=rec.user_id, rating=rating,
                                         comment=text, created_at=stamp, updated_at=stamp)
                    db.add(row)
                else:
                    row.rating, row.comment, row.updated_at = rating, text, stamp
                try:
                    db.commit()
                except IntegrityError:  # a concurrent first rating won: replace it instead
                    db.rollback()
                    if attempt == 2:
                        raise
                    continue
                return Rated(rec.id, row.rating, row.comment, _iso(row.updated_at))
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _query(rating: RatingFilter) -> Select[tuple[AnswerFeedback, AnswerRecord]]:
        stmt = select(AnswerFeedback, AnswerRecord).join(
            AnswerRecord, AnswerRecord.id == AnswerFeedback.record_id)
        if rating != "all":
            stmt = stmt.where(AnswerFeedback.rating == rating)
        return stmt.order_by(AnswerFeedback.updated_at.desc(), AnswerFeedback.record_id.desc())

    def rated_answers(self, actor: Actor, rating: RatingFilter = "down", limit: int = 50,
                      offset: int = 0) -> RatedPage:
        """Rated answers (``down`` by default, ``up`` or ``all``), newest rating first (admins)."""
        access.require_admin(actor)
        if rating not in (*RATINGS, "all"):
            raise Invalid(f"must be one of {', '.join((*RATINGS, 'all'))}", field="rating")
        if not 1 <= limit <= MAX_PAGE:
            raise Invalid(f"must be between 1 and {MAX_PAGE}", field="limit")
        if offset < 0:
            raise Invalid("must not be negative", field="offset")
        with self._sessions() as db:
            counted = select(func.count()).select_from(AnswerFeedback)
            if rating != "all":
                counted = counted.where(AnswerFeedback.rating == rating)
            total = db.scalar(counted) or 0
            rows = db.execute(self._query(rating).limit(limit).offset(offset)).tuples()
            items = [_rated_answer(fb, rec) for fb, rec in rows]
        return RatedPage(rating, total, limit, offset, items)

    def export(self, actor: Actor, fmt: Literal["csv", "jsonl"],
               rating: RatingFilter = "down") -> Export:
        """Every rated answer (``down`` by default), newest first, as CSV or JSON lines.

        Nested values (the cited and retrieved passages) are JSON in a CSV cell. The export
        is written to the audit log.
        """
        access.require_admin(actor)
        if fmt not in ("csv", "jsonl"):
            raise Invalid("must be csv or jsonl", field="format")
        if rating not in (*RATINGS, "all"):
            raise Invalid(f"must be one of {', '.join((*RATINGS, 'all'))}", field="rating")
        with self._sessions() as db:
            rows = [asdict(_rated_answer(fb, rec))
                    for fb, rec in db.execute(self._query(rating)).tuples()]
            audit.record(db, actor.username, "export", "feedback", ip=actor.ip,
                         detail={"format": fmt, "rating": rating, "rows": len(rows)})
            db.commit()
        if fmt == "csv":
            return Export(audit.to_csv(rows, FEEDBACK_FIELDS), "text/csv",
                          "enclave-feedback.csv", len(rows))
        body = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
        return Export(body, "application/x-ndjson", "enclave-feedback.jsonl", len(rows))
