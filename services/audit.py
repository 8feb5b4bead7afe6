"""The append-only audit log and per-answer evidence records, with CSV/JSON export."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from db.models import AnswerRecord, AuditEvent, Conversation, Document

AUDIT_FIELDS = ("id", "at", "actor", "action", "target", "outcome", "ip", "detail")
EVIDENCE_FIELDS = ("id", "at", "username", "conversation_id", "collection", "question",
                   "answer", "abstained", "mode", "model_name", "model_sha256", "model_preset",
                   "model_backend", "model_licence", "search_query", "draft", "retrieved",
                   "cited")


def record(
    session: Session, actor: str, action: str, target: str = "", *,
    detail: dict[str, Any] | None = None, outcome: str = "ok", ip: str = "",
) -> AuditEvent:
    """Append an audit event (flushed; the caller commits with the change it describes)."""
    event = AuditEvent(actor=actor or "-", action=action, target=target[:2000],
                       detail=json.dumps(detail or {}, sort_keys=True, default=str),
                       outcome=outcome, ip=ip[:64])
    session.add(event)
    session.flush()
    return event


def _hit_json(hit: dict[str, Any], hashes: dict[int, str]) -> dict[str, Any]:
    return {"chunk_id": hit["chunk_id"], "document_id": hit["document_id"],
            "document": hit["document"], "version": hit.get("document_version"),
            "content_hash": hashes.get(hit["document_id"]), "page": hit.get("page"),
            "score": round(float(hit["score"]), 4)}


def record_answer(
    session: Session, *, user_id: int, username: str, conversation: Conversation,
    question: str, answer: dict[str, Any], hits: Sequence[dict[str, Any]], model_name: str,
    model_sha256: str | None, search_query: str | None = None, model_preset: str | None = None,
    model_backend: str | None = None, model_licence: str | None = None,
) -> AnswerRecord:
    """Append the evidence of one answer (flushed).

    ``answer`` is the ``done`` event's body, ``hits`` the ``sources`` event's passages,
    ``search_query`` the standalone query a follow-up was searched with; the ``model_*``
    values say which model wrote it (generation/models.py: the GGUF file's name and SHA-256,
    its preset, backend and licence).
    """
    by_chunk = {h["chunk_id"]: h for h in hits}
    hashes = dict(session.execute(
        select(Document.id, Document.content_hash)
        .where(Document.id.in_({h["document_id"] for h in hits}))
    ).tuples().all())
    cited = []
    for c in answer.get("citations", []):
        hit = by_chunk.get(c.get("chunk_id"))
        row = _hit_json(hit, hashes) if hit is not None else {"chunk_id": c.get("chunk_id")}
        row.update(n=c.get("n"), span_start=c.get("span_start"), span_end=c.get("span_end"))
        cited.append(row)
    rec = AnswerRecord(
        user_id=user_id, username=username, conversation_id=conversation.id,
        collection=conversation.collection, question=question,
        answer=str(answer.get("answer", "")), abstained=bool(answer.get("abstained")),
        mode=str(answer.get("mode", "")), model_name=model_name, model_sha256=model_sha256,
        model_preset=model_preset, model_backend=model_backend,
        model_licence=model_licence[:200] if model_licence else None,
        retrieved=json.dumps([_hit_json(h, hashes) for h in hits]), cited=json.dumps(cited),
        search_query=search_query,
        draft=_draft(answer.get("draft")),
    )
    session.add(rec)
    session.flush()
    return rec


def _draft(value: Any) -> str | None:
    """An answer's draft outcome as stored (anything unknown: None)."""
    return value if value in ("kept", "replaced", "skipped") else None


def _row(obj: Any, fields: Iterable[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in fields:
        value = getattr(obj, f)
        if isinstance(value, datetime):
            value = value.isoformat() + "Z"
        elif f in ("detail", "retrieved", "cited"):
            value = json.loads(value)
        out[f] = value
    return out


def _rows(session: Session, model: Any, fields: Sequence[str], limit: int | None,
          **equal: str | None) -> list[dict[str, Any]]:
    stmt: Select[Any] = select(model).order_by(model.id.desc())
    for column, value in equal.items():
        if value:
            stmt = stmt.where(getattr(model, column) == value)
    if limit:
        stmt = stmt.limit(limit)
    return [_row(r, fields) for r in session.scalars(stmt)]


def audit_rows(session: Session, *, action: str | None = None, actor: str | None = None,
               limit: int | None = 500) -> list[dict[str, Any]]:
    """Audit events, newest first, optionally narrowed by action and actor."""
    return _rows(session, AuditEvent, AUDIT_FIELDS, limit, action=action, actor=actor)


def evidence_rows(session: Session, *, username: str | None = None, collection: str | None = None,
                  limit: int | None = 500) -> list[dict[str, Any]]:
    """Answer evidence records, newest first."""
    return _rows(session, AnswerRecord, EVIDENCE_FIELDS, limit, username=username,
                 collection=collection)


def to_csv(rows: list[dict[str, Any]], fields: Sequence[str]) -> str:
    """CSV with a header; nested values as JSON.

    Cells that a spreadsheet would run as a formula (leading ``= + - @``, tab, CR) get a
    leading apostrophe (CSV injection).
    """
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(fields), extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        cells = {}
        for k in fields:
            v = row.get(k)
            text = json.dumps(v) if isinstance(v, list | dict) else ("" if v is None else str(v))
            if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
                text = "'" + text
            cells[k] = text
        writer.writerow(cells)
    return out.getvalue()
