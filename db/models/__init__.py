"""Every table of the Enclave database, by area; import models from here."""

from db.base import Base, now
from db.models.access import GRANT_LEVELS, CollectionGrant, DocumentRestriction, GrantLevel, Group
from db.models.accounts import ROLES, ApiToken, AuditEvent, GroupMember, LoginSession, User
from db.models.catalog import Chunk, Collection, Document
from db.models.jobs import FILE_ACTIVE, JOB_STATES, IngestJob, IngestJobFile
from db.models.records import RATINGS, AnswerFeedback, AnswerRecord, Conversation, Rating
from db.models.sources import SOURCE_KINDS, SyncSource, SyncSourceFile

# Tables the database keeps append-only (UPDATE and DELETE refused by triggers).
APPEND_ONLY = ("audit_events", "answer_records")

__all__ = [
    "APPEND_ONLY", "FILE_ACTIVE", "GRANT_LEVELS", "JOB_STATES", "RATINGS", "ROLES",
    "SOURCE_KINDS", "SyncSource", "SyncSourceFile",
    "AnswerFeedback", "AnswerRecord",
    "ApiToken", "AuditEvent", "Base", "Chunk", "Collection", "CollectionGrant", "Conversation",
    "Document", "DocumentRestriction", "GrantLevel", "Group", "GroupMember", "IngestJob",
    "IngestJobFile", "LoginSession", "Rating", "User", "now",
]
