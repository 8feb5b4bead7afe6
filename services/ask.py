"""Asking and searching: passages and cited answers from what the actor may read.

A question's scope is one collection, several, or every collection the actor may read
(``None``); several are searched as one (:meth:`retrieval.retriever.Retriever.search`). Every
answer is kept as an evidence record (who asked, which passages of which document versions
were retrieved and cited, which model wrote it) in a conversation of the actor's, which keeps
its scope (:func:`scope_label`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from config.settings import Settings
from db.base import now
from db.models import AnswerRecord, Conversation
from generation.answerer import Answerer
from generation.events import AnswerEvent, AnswerStream, DoneEvent, SourcesEvent, TokenEvent
from generation.followup import FollowupRewriter, Rewrite
from generation.types import Answer
from retrieval.retriever import Retriever, SearchFilter, UnknownCollectionError
from retrieval.types import Hit
from services import access, audit
from services.actor import Actor
from services.errors import Invalid, NotFound, Refused
from services.feedback import Rated, own_ratings

HIDDEN_ANSWER = "(hidden: this answer cites a document you can no longer read)"
#: The mode of an answer record whose reader stopped it while it was written: its text is the
#: model's partial draft, never checked against its sources.
STOPPED = "stopped"
log = logging.getLogger(__name__)
ALL_COLLECTIONS = "*"  # a conversation's scope label: every collection its owner may read
MAX_SCOPE_LABEL = 100  # conversations.collection is a String(100)

# One collection, several, or None: every collection the actor may read.
ScopeArg = str | Sequence[str] | None


def scope_label(collections: ScopeArg) -> str:
    """How a conversation stores its scope: the name, names joined by commas, or ``*``."""
    if collections is None:
        return ALL_COLLECTIONS
    if isinstance(collections, str):
        return collections
    return ",".join(sorted(set(collections)))


class DraftHistory:
    """The model's earlier draft outcomes per scope, read from the answer records.

    Given to :meth:`Answerer.remember_drafts`: a web process starts each scope's draft record
    (``generation.skip_model_below``) from the last ``limit`` kept / replaced drafts of the
    same model (name and SHA-256) over the same scope label, oldest first, so a restart does
    not pay for ``draft_history`` drafts again. Scopes of "every collection you can read" are
    stored as ``*`` and resolved per reader, so they start empty.
    """

    def __init__(self, sessions: sessionmaker[Session], answerer: Answerer, limit: int) -> None:
        self._sessions = sessions
        self._answerer = answerer
        self._limit = limit

    def __call__(self, scope: Hashable) -> list[bool]:
        """``scope``'s recorded outcomes (kept = True), oldest first."""
        label = scope if isinstance(scope, str) else scope_label([str(n) for n in scope])
        model = self._answerer.model_info()
        stmt = (select(AnswerRecord.draft)
                .where(AnswerRecord.collection == label, AnswerRecord.model_name == model.name,
                       AnswerRecord.draft.in_(("kept", "replaced")))
                .order_by(AnswerRecord.id.desc()).limit(self._limit))
        if model.sha256 is not None:
            stmt = stmt.where(AnswerRecord.model_sha256 == model.sha256)
        with self._sessions() as db:
            drafts = db.scalars(stmt).all()
        return [d == "kept" for d in reversed(drafts)]


def scope_names(label: str) -> list[str] | None:
    """The collections of a stored scope label (None: every collection readable)."""
    return None if label == ALL_COLLECTIONS else [n for n in label.split(",") if n]


def describe_scope(label: str) -> str:
    """A scope label for people: ``'handbook'``, ``'handbook, policies'``, ``all ...``."""
    names = scope_names(label)
    return "all the collections you can read" if names is None else ", ".join(names)


@dataclass(frozen=True, slots=True)
class ConversationSummary:
    """One of the actor's conversations."""

    id: int
    collection: str  # the scope label: a name, names joined by commas, or "*" (all)
    title: str
    created_at: str
    collections: list[str] | None = None  # the scope's collections (None: all you can read)


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
    collection: str  # the scope label, as in ConversationSummary
    title: str
    turns: list[Turn]
    collections: list[str] | None = None


@dataclass(frozen=True, slots=True)
class Found:
    """A search's passages and where they were searched."""

    scope: str  # the scope label (scope_label)
    collections: list[str]  # the readable collections searched
    hits: list[Hit]


class Asking:
    """Search and ask over one, several or all readable collections, always as the actor."""

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

    @staticmethod
    def _readable(db: Session, actor: Actor, collections: ScopeArg) -> list[str]:
        """The scope's collection names, each one the actor may read.

        An unknown or unreadable name is the same :class:`NotFound` as for one collection;
        ``None`` is every collection the actor may read (possibly none).
        """
        if collections is None:
            return [c.name for c in access.readable_collections(db, actor)]
        names = [collections] if isinstance(collections, str) else list(collections)
        return [access.readable_collection(db, actor, n).name for n in dict.fromkeys(names)]

    def search(self, actor: Actor, query: str, collection: ScopeArg, k: int | None = None,
               filters: SearchFilter | None = None) -> list[Hit]:
        """Top-k passages of documents the actor may read, in one or several collections.

        ``collection`` is a name, several names, or None for every collection readable.
        """
        return self.find(actor, query, collection, k, filters).hits

    def find(self, actor: Actor, query: str, collection: ScopeArg, k: int | None = None,
             filters: SearchFilter | None = None) -> Found:
        """:meth:`search`, with the collections that were searched."""
        k = self._k(k)
        with self._sessions() as db:
            names = self._readable(db, actor, collection)
        try:
            hits = self._retriever.search(query, names, k, filters, principal=actor.principal)
        except UnknownCollectionError as exc:  # dropped in between
            raise NotFound(str(exc)) from None
        return Found(scope_label(collection), names, hits)

    def ask(self, actor: Actor, question: str, collection: ScopeArg, k: int | None = None,
            conversation_id: int | None = None, earlier: Sequence[str] = (), *,
            continue_scope: bool = False) -> AnswerStream:
        """The answer's events; the last one carries the evidence record's ids.

        ``collection`` is the scope: a name, several, or None for every collection the actor
        may read. With ``continue_scope`` a continued conversation keeps its own scope (the
        ``collection`` given is not used); otherwise the scope must be the conversation's.

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
            label = scope_label(collection)
            if continue_scope and conversation_id is not None:
                label = self._own_conversation(db, actor, conversation_id).collection
            names = self._readable(db, actor, scope_names(label))
            if len(label) > MAX_SCOPE_LABEL:
                raise Invalid("too many collections to keep with a conversation: choose "
                              "fewer, or all the collections you can read", field="collections")
            previous = self._previous_queries(db, actor, conversation_id)
            conv_id = self._conversation(db, actor, conversation_id, label, question)
            db.commit()
        rewrite = self.rewrite(question, previous, earlier)
        try:
            events = self._answerer.stream(question, names, k, principal=actor.principal,
                                           query=rewrite.query)
            # retrieval errors surface here, before any streaming: read up to the sources
            before = [next(events)]
            while not isinstance(before[-1], SourcesEvent):
                before.append(next(events))
        except UnknownCollectionError as exc:  # dropped in between
            raise NotFound(str(exc)) from None
        return self._recorded(actor, question, conv_id, before, events)

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

    def _recorded(self, actor: Actor, question: str, conv_id: int, before: list[AnswerEvent],
                  events: AnswerStream) -> AnswerStream:
        """The events, the done event recorded as evidence.

        Closed before its done event (the reader pressed Stop, or went away) it closes the
        answer's events, which stops the model, and keeps what had been written as a
        ``stopped`` record: the unchecked partial draft (see :data:`STOPPED`).
        """
        sources = next((e for e in before if isinstance(e, SourcesEvent)), None)
        draft: list[str] = []
        finished = False
        try:
            yield from before
            for event in events:
                if isinstance(event, TokenEvent):
                    draft.append(event.text)
                elif isinstance(event, DoneEvent):
                    event = self._record(actor, question, conv_id, event,
                                         sources.sources if sources else [])
                    finished = True
                yield event
        except GeneratorExit:
            if not finished:
                events.close()
                self._record_stopped(actor, question, conv_id, "".join(draft), sources)
            raise

    def _record_stopped(self, actor: Actor, question: str, conv_id: int, draft: str,
                        sources: SourcesEvent | None) -> None:
        hits = sources.sources if sources else []
        answer = Answer(question, draft.strip(), [], hits, model=self._answerer.model_name,
                        mode=STOPPED)
        try:
            self._record(actor, question, conv_id,
                         DoneEvent(answer, search_query=sources.search_query if sources
                                   else None), hits)
        except Exception:  # noqa: BLE001 - the reader is gone; nobody to tell but the log
            log.exception("could not record the stopped answer to %r", question)

    def _record(self, actor: Actor, question: str, conv_id: int, done: DoneEvent,
                sources: list[Hit]) -> DoneEvent:
        model = self._answerer.model_info()  # the file's hash is computed once, cached
        with self._sessions() as db:
            conv = db.get(Conversation, conv_id)
            rec = audit.record_answer(
                db, user_id=actor.user_id or 0, username=actor.username, conversation=conv,
                question=question, answer=done.answer.to_dict(),
                hits=[h.to_dict() for h in sources], model_name=model.name,
                model_sha256=model.sha256, model_preset=model.preset,
                model_backend=model.backend, model_licence=model.licence_text,
                search_query=done.search_query,
            )
            db.commit()
            return replace(done, evidence_id=rec.id, conversation_id=conv_id)

    @staticmethod
    def _own_conversation(db: Session, actor: Actor, conv_id: int) -> Conversation:
        """The actor's conversation (NotFound for anyone else's, admins' included, or deleted)."""
        conv = db.get(Conversation, conv_id)
        if (conv is None or actor.user_id is None or conv.user_id != actor.user_id
                or conv.deleted_at is not None):
            raise NotFound(f"no conversation {conv_id}")
        return conv

    def _conversation(self, db: Session, actor: Actor, conv_id: int | None, label: str,
                      question: str) -> int:
        """The actor's conversation ``conv_id`` (NotFound for anyone else's), or a new one."""
        if conv_id is not None:
            conv = self._own_conversation(db, actor, conv_id)
            if conv.collection != label:
                raise Refused(f"conversation {conv_id} is about "
                              f"{describe_scope(conv.collection)!r}")
            return conv.id
        conv = Conversation(user_id=actor.user_id, collection=label, title=question[:200])
        db.add(conv)
        db.flush()
        return conv.id

    @staticmethod
    def _summary(conv: Conversation) -> ConversationSummary:
        return ConversationSummary(conv.id, conv.collection, conv.title,
                                   conv.created_at.isoformat() + "Z",
                                   scope_names(conv.collection))

    def conversations(self, actor: Actor) -> list[ConversationSummary]:
        """The actor's conversations, newest first (deleted ones left out)."""
        with self._sessions() as db:
            rows = db.scalars(select(Conversation).where(Conversation.user_id == actor.user_id,
                                                         Conversation.deleted_at.is_(None))
                              .order_by(Conversation.id.desc()).limit(200))
            return [self._summary(c) for c in rows]

    def rename_conversation(self, actor: Actor, conversation_id: int,
                            title: str) -> ConversationSummary:
        """Give one of the actor's conversations a new title (NotFound for anyone else's)."""
        title = " ".join(title.split())[:200]
        if not title:
            raise Invalid("give the conversation a title", field="title")
        with self._sessions() as db:
            conv = self._own_conversation(db, actor, conversation_id)
            conv.title = title
            db.commit()
            return self._summary(conv)

    def delete_conversation(self, actor: Actor, conversation_id: int) -> None:
        """Remove one of the actor's conversations from its owner's list and links.

        Its answers stay as evidence records (append-only, for the audit); the conversation
        is only marked deleted, and opening or continuing it is a 404 from then on.
        """
        with self._sessions() as db:
            conv = self._own_conversation(db, actor, conversation_id)
            conv.deleted_at = now()
            audit.record(db, actor.username, "conversation.delete", str(conv.id), ip=actor.ip)
            db.commit()

    def conversation(self, actor: Actor, conversation_id: int) -> Thread:
        """One of the actor's conversations (NotFound for anyone else's).

        A turn citing a document the actor can no longer read is hidden: access was revoked
        since, and the history must not keep showing it (nor the rating of it). Each turn
        carries the actor's own earlier rating of that answer, if any.
        """
        with self._sessions() as db:
            conv = self._own_conversation(db, actor, conversation_id)
            records = list(db.scalars(select(AnswerRecord)
                                      .where(AnswerRecord.conversation_id == conv.id)
                                      .order_by(AnswerRecord.id)))
            allowed = access.readable_document_ids(db, actor, {
                c.get("document_id") for rec in records for c in json.loads(rec.cited)})
            ratings = own_ratings(db, actor.user_id, [rec.id for rec in records])
            turns = []
            for rec in records:
                turn = Turn(rec.id, rec.at.isoformat() + "Z", rec.question, rec.answer,
                            rec.abstained, rec.mode, rec.model_name, json.loads(rec.cited),
                            ratings.get(rec.id), rec.search_query)
                if any(c.get("document_id") not in allowed for c in turn.cited):
                    turn = replace(turn, answer=HIDDEN_ANSWER, cited=[], feedback=None)
                turns.append(turn)
            return Thread(conv.id, conv.collection, conv.title, turns,
                          scope_names(conv.collection))
