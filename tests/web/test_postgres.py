"""The account, access-control, audit and evidence tables on a real PostgreSQL (127.0.0.1:5432,
trust auth, as on the CI machine; `.ci/run` starts it when it is down). A throw-away database
is created for the test and dropped afterwards."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

pytestmark = pytest.mark.integration

def test_access_control_and_append_only_audit_on_postgres(pg_url: str) -> None:
    from db.engine import make_engine, session_factory
    from db.migrate import schema_diff, upgrade
    from db.models import Conversation, Document
    from retrieval.acl import Principal, allowed_document_ids, grant_collection, restrict_document
    from retrieval.catalog import get_or_create_collection
    from services import audit
    from services.accounts import authenticate_local, create_user, principal_for, set_groups

    engine = make_engine(pg_url)
    upgrade(engine)  # the migrations, as on a real PostgreSQL deployment
    assert schema_diff(engine) == []
    sessions = session_factory(engine)
    try:
        with sessions() as db:
            coll = get_or_create_collection(db, "hr")
            docs = [Document(collection_id=coll.id, name=f"d{i}.md", file_type="md",
                             content_hash=f"{i:064x}") for i in range(3)]
            db.add_all(docs)
            db.flush()
            grant_collection(db, coll.id, "staff")
            restrict_document(db, docs[0].id, ["hr-team"])
            user = create_user(db, "pat", "a-long-enough-passphrase", "reader")
            set_groups(db, user, ["staff"])
            audit.record(db, "pat", "login", "pat", detail={"source": "local"})
            conv = Conversation(user_id=user.id, collection="hr", title="q")
            db.add(conv)
            db.flush()
            audit.record_answer(db, user_id=user.id, username="pat", conversation=conv,
                                question="q", answer={"answer": "a", "citations": []}, hits=[],
                                model_name="m", model_sha256=None)
            db.commit()
            assert authenticate_local(db, "PAT", "a-long-enough-passphrase") is not None
            principal = principal_for(db, user)
            assert principal == Principal("pat", frozenset({"staff"}))
            assert allowed_document_ids(db, coll.id, principal) == {docs[1].id, docs[2].id}
            assert allowed_document_ids(db, coll.id, Principal("x", frozenset())) == set()
            rows = audit.audit_rows(db)
            assert rows[0]["action"] == "login" and rows[0]["detail"] == {"source": "local"}
            evidence = audit.evidence_rows(db)
            assert len(evidence) == 1 and evidence[0]["username"] == "pat"
        for sql in ("UPDATE audit_events SET actor = 'x'", "DELETE FROM audit_events",
                    "UPDATE answer_records SET answer = 'x'", "DELETE FROM answer_records"):
            with sessions() as db, pytest.raises(DatabaseError, match="append-only"):
                db.execute(text(sql))
                db.commit()
    finally:
        engine.dispose()
