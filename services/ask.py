"""Asking and searching: passages and cited answers from what the actor may read.

Every answer is kept as an evidence record (who asked, which passages of which document
versions were retrieved and cited, which model wrote it) in a conversation of the actor's.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from config.settings import Settings
from db.models import AnswerRecord, Conversation
from generation.answerer import Answerer
from generation.events import AnswerEvent, DoneEvent, SourcesEvent
from generation.followup import FollowupRewriter, Rewrite
from retrieval.acl import allowed_document_ids
from retrieval.catalog import get_collection
from retrieval.retriever import Retriever, SearchFilter, UnknownCollectionError
from retrieval.types import Hit
from services import access, audit
from services.actor import Actor
from services.errors import Invalid, NotFound, Refused
from services.feedback import Rated, own_ratings

HIDDEN_ANSWER = "(hidden: this answer cites a document you can no longer read)"


@dataclass(frozen=True, slots=True)
class ConversationSummary:
    """One of the actor's conversations."""

    id: int
    collection: str
    title: str
    created_at: str


@dataclass(frozen=True, slots=True)
class Turn:
    """A question and its answer in a conversation."""

    id: int
    at: str
    question: str
    answer: str
    abstained: bool
    mode: str
    model: str
    cited: list[dict[str, Any]]
    feedback: Rated | None = None  # the actor's own rating of this answer, if any
    search_query: str | None = None  # the standalone query a follow-up was searched with


@dataclass(frozen=True, slots=True)
class Thread:
    """A conversation with its turns."""

    id: int
    collection: str
    title: str
    turns: list[Turn]


class Asking:
    """Search and ask over one collection at a time, always as the actor."""

    def __init__(self, settings: Settings, sessions: sessionmaker[Session],
                 retriever: Retriever, answerer: Answerer) -> None:
        self._settings = settings
        self._sessions = sessions
        self._retriever = retriever
        self._answerer = answerer
        method = settings.retrieval.followup_rewrite
        self._rewriter = FollowupRewriter(
            method, answerer.generator if method == "model" else None)

    def _k(self, k: int | None) -> int | None:
        limit = self._settings.web.max_k
        if k is not None and k > limit:
            raise Invalid(f"must be at most {limit} (web.max_k)", field="k")
        return k

    def search(self, actor: Actor, query: str, collection: str, k: int | None = None,
               filters: SearchFilter | None = None) -> list[Hit]:
        """Top-k passages of documents the actor may read."""
        k = self._k(k)
        with self._sessions() as db:
            access.readable_collection(db, actor, collection)
        try:
            return self._retriever.search(query, collection, k, filters, principal=actor.principal)
        except UnknownCollectionError:
            raise NotFound(f"no collection named {collection!r}") from None

    def ask(self, actor: Actor, question: str, collection: str, k: int | None = None,
            conversation_id: int | None = None, earlier: Sequence[str] = ()
            ) -> Iterator[AnswerEvent]:
        """The answer's events; the last one carries the evidence record's ids.

        A follow-up is rewritten into its standalone search query (``retrieval.
        followup_rewrite``) from the conversation's previous question, or, in a new
        conversation, from ``earlier``: the user's earlier questions as asked (an
        OpenAI-style request's earlier user messages). The events carry the query as
        ``search_query``. Access, the conversation and retrieval are settled before this
        returns (errors are raised here, not in the middle of a stream); the model runs as
        the events are read.
        """
        k = self._k(k)
        with self._sessions() as db:
            access.readable_collection(db, actor, collection)
            previous = self._previous_queries(db, actor, conversation_id)
            conv_id = self._conversation(db, actor, conversation_id, collection, question)
            db.commit()
        rewrite = self.rewrite(question, previous, earlier)
        try:
            events = self._answerer.stream(question, collection, k, principal=actor.principal,
                                           query=rewrite.query)
            first = next(events)  # retrieval errors surface here, before any streaming
        except UnknownCollectionError:
            raise NotFound(f"no collection named {collection!r}") from None
        return self._recorded(actor, question, conv_id, first, events)

    def rewrite(self, question: str, previous: Sequence[str] = (),
                earlier: Sequence[str] = ()) -> Rewrite:
        """The search query of ``question`` in its conversation.

        Rewritten after the conversation's ``previous`` standalone queries (oldest first), or
        else after the user's ``earlier`` questions as asked.
        """
        if previous:
            return self._rewriter.rewrite(previous, question)
        return self._rewriter.rewrite_chain(earlier, question)

    @staticmethod
    def _previous_queries(db: Session, actor: Actor, conv_id: int | None) -> list[str]:
        """The standalone queries of the last turns of the actor's conversation, oldest first.

        None for a new conversation or anyone else's (``_conversation`` refuses that).
        """
        if conv_id is None:
            return []
        rows = db.execute(select(AnswerRecord.question, AnswerRecord.search_query)
                          .where(AnswerRecord.conversation_id == conv_id,
                                 AnswerRecord.user_id == actor.user_id)
                          .order_by(AnswerRecord.id.desc()).limit(3)).all()
        return [query or asked for asked, query in reversed(rows)]

    def _recorded(self, actor: Actor, question: str, conv_id: int, first: AnswerEvent,
                  events: Iterator[AnswerEvent]) -> Iterator[AnswerEvent]:
        sources = first.sources if isinstance(first, SourcesEvent) else []
        yield first
        for event in events:
            if isinstance(event, DoneEvent):
                event = self._record(actor, question, conv_id, event, sources)
            yield event

    def _record(self, actor: Actor, question: str, conv_id: int, done: DoneEvent,
                sources: list[Hit]) -> DoneEvent:
        answerer = self._answerer
        with self._sessions() as db:
            conv = db.get(Conversation, conv_id)
            rec = audit.record_answer(
                db, user_id=actor.user_id or 0, username=actor.username, conversation=conv,
                question=question, answer=done.answer.to_dict(),
                hits=[h.to_dict() for h in sources], model_name=answerer.model_name,
                model_sha256=audit.file_sha256(answerer.model_path),
                search_query=done.search_query,
            )
            db.commit()
            return replace(done, evidence_id=rec.id, conversation_id=conv_id)

    @staticmethod
    def _conversation(db: Session, actor: Actor, conv_id: int | None, collection: str,
                      question: str) -> int:
        """The actor's conversation ``conv_id`` (NotFound for anyone else's), or a new one."""
        if conv_id is not None:
            conv = db.get(Conversation, conv_id)
            if conv is None or conv.user_id != actor.user_id:
                raise NotFound(f"no conversation {conv_id}")
            if conv.collection != collection:
                raise Refused(f"conversation {conv_id} is about the collection "
                              f"{conv.collection!r}")
            return conv.id
        conv = Conversation(user_id=actor.user_id, collection=collection, title=question[:200])
        db.add(conv)
        db.flush()
        return conv.id

    def conversations(self, actor: Actor) -> list[ConversationSummary]:
        """The actor's conversations, newest first."""
        with self._sessions() as db:
            rows = db.scalars(select(Conversation).where(Conversation.user_id == actor.user_id)
                              .order_by(Conversation.id.desc()).limit(200))
            return [ConversationSummary(c.id, c.collection, c.title,
                                        c.created_at.isoformat() + "Z") for c in rows]

    def conversation(self, actor: Actor, conversation_id: int) -> Thread:
        """One of the actor's conversations (NotFound for anyone else's).

        A turn citing a document the actor can no longer read is hidden: access was revoked
        since, and the history must not keep showing it (nor the rating of it). Each turn
        carries the actor's own earlier rating of that answer, if any.
        """
        with self._sessions() as db:
            conv = db.get(Conversation, conversation_id)
            if conv is None or conv.user_id != actor.user_id:
                raise NotFound(f"no conversation {conversation_id}")
            coll = get_collection(db, conv.collection)
            allowed = (allowed_document_ids(db, coll.id, actor.principal) if coll else set())
            records = list(db.scalars(select(AnswerRecord)
                                      .where(AnswerRecord.conversation_id == conv.id)
                                      .order_by(AnswerRecord.id)))
            ratings = own_ratings(db, actor.user_id, [rec.id for rec in records])
            turns = []
            for rec in records:
                turn = Turn(rec.id, rec.at.isoformat() + "Z", rec.question, rec.answer,
                            rec.abstained, rec.mode, rec.model_name, json.loads(rec.cited),
                            ratings.get(rec.id), rec.search_query)
                if any(c.get("document_id") not in allowed for c in turn.cited):
                    turn = replace(turn, answer=HIDDEN_ANSWER, cited=[], feedback=None)
                turns.append(turn)
            return Thread(conv.id, conv.collection, conv.title, turns)
