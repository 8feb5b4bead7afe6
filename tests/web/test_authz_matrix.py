"""Authorization matrix (SECURITY.md row 5): every route of the app's URL map x {admin,
curator, reader, disabled user, other group, anonymous} x {session, API token} against the
declared table below. A route missing from the table fails the suite.

The world: collection ``handbook`` (the sample corpus) granted ``read`` to group ``staff`` and
``manage`` to group ``editors``; collection ``finance`` granted ``read`` to group ``finance``.
Users: admin (role admin), curator (curator; editors, staff), reader (reader; staff),
disabled (reader; staff; logged in and given a token, then disabled), other (reader;
finance), anonymous. Every cell gets fresh target objects, so one cell's delete cannot turn
the next cell's answer into a 404.
"""

from __future__ import annotations

import io
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import USER_PASSWORD, login, make_settings, make_token, make_user

pytestmark = pytest.mark.integration

A, C, R, D, O, N = "admin", "curator", "reader", "disabled", "other", "anonymous"  # noqa: E741
PRINCIPALS = (A, C, R, D, O, N)
LOGGED = frozenset({A, C, R, O})
READ_HB = frozenset({A, C, R})
MANAGE_HB = frozenset({A, C})
ADMIN = frozenset({A})
NOBODY: frozenset[str] = frozenset()
PUBLIC = "public"  # anyone, logged in or not, with or without a token


@dataclass(frozen=True)
class Route:
    """How to call one (endpoint, method) and who may."""

    build: Callable[[World, str], dict[str, Any]]  # -> kwargs for client.open
    session: frozenset[str] | str
    token: frozenset[str] | str | None = None  # None: same as session for /api/, else nobody


class World:
    """Objects the routes act on, made fresh on demand."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.services = app.extensions["enclave"]

    def db(self) -> Any:
        return self.services.stack.sessions()

    def handbook_doc(self) -> tuple[int, int]:
        """(document id, chunk id) of an ingested handbook document."""
        from sqlalchemy import select

        from db.models import Chunk, Document

        with self.db() as db:
            doc_id, chunk_id = db.execute(
                select(Document.id, Chunk.id).join(Chunk, Chunk.document_id == Document.id)
                .where(Document.name == "travel-and-expenses.pdf").limit(1)).one()
        return doc_id, chunk_id

    def scratch_doc(self, collection: str = "handbook") -> int:
        """A ready document row with a stored original and no chunks (safe to delete)."""
        from db.models import Document
        from retrieval.catalog import get_collection

        uploads = self.services.settings.uploads_dir
        uploads.mkdir(parents=True, exist_ok=True)
        storage = f"{uuid.uuid4().hex}.md"
        (uploads / storage).write_text("# scratch\n\nscratch text\n", encoding="utf-8")
        with self.db() as db:
            coll = get_collection(db, collection)
            doc = Document(collection_id=coll.id, name=f"scratch-{uuid.uuid4().hex[:8]}.md",
                           file_type="md", content_hash=uuid.uuid4().hex, status="ready",
                           storage_name=storage)
            db.add(doc)
            db.commit()
            return doc.id

    def job(self) -> int:
        from ingest.jobs import NewFile

        path = self.services.settings.uploads_dir / f"{uuid.uuid4().hex}.xyz"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("not a supported file", encoding="utf-8")
        job_id = self.services.job_runner.create("handbook", [NewFile(path, "broken.xyz")])
        self.services.job_runner.wait(job_id, timeout=60)
        return job_id

    def conversation(self, owner: str = R) -> int:
        from db.models import Conversation
        from services.accounts import get_user

        with self.db() as db:
            conv = Conversation(user_id=get_user(db, owner).id, collection="handbook",
                                title="mine")
            db.add(conv)
            db.commit()
            return conv.id

    def answer(self, owner: str = R) -> int:
        """An answer evidence record of ``owner`` (the id the ask API returns)."""
        from db.models import Conversation
        from services import audit
        from services.accounts import get_user

        with self.db() as db:
            user = get_user(db, owner)
            conv = Conversation(user_id=user.id, collection="handbook", title="rated")
            db.add(conv)
            db.flush()
            rec = audit.record_answer(db, user_id=user.id, username=owner, conversation=conv,
                                      question="q", answer={"answer": "a", "citations": []},
                                      hits=[], model_name="m", model_sha256=None)
            db.commit()
            return rec.id

    def token_id(self, owner: str) -> int:
        from services.accounts import create_token, get_user

        with self.db() as db:
            user = get_user(db, owner)
            if user is None:
                return 999999
            tid = create_token(db, user, "scratch").id
            db.commit()
            return tid

    def scratch_folder(self) -> str:
        """A folder outside the data directory with one Markdown file."""
        import tempfile

        folder = Path(tempfile.mkdtemp(prefix="enclave-share-"))
        (folder / "note.md").write_text("# Note\n\nA synced note.\n", encoding="utf-8")
        return str(folder)

    def scratch_source(self) -> int:
        """A synced folder attached to ``handbook``."""
        from db.models import SyncSource

        with self.db() as db:
            row = SyncSource(collection="handbook", path=self.scratch_folder(), interval_s=0)
            db.add(row)
            db.commit()
            return row.id

    def scratch_user(self) -> str:
        name = f"scratch-{uuid.uuid4().hex[:8]}"
        make_user(self.app, name)
        return name

    def scratch_grant(self) -> str:
        from retrieval.acl import grant_collection
        from retrieval.catalog import get_collection

        group = f"g-{uuid.uuid4().hex[:8]}"
        with self.db() as db:
            grant_collection(db, get_collection(db, "handbook").id, group, "read")
            db.commit()
        return group


def _get(url: str) -> dict[str, Any]:
    return {"path": url, "method": "GET"}


def _upload(url: str) -> dict[str, Any]:
    return {"path": url, "method": "POST", "content_type": "multipart/form-data",
            "data": {"files": (io.BytesIO(b"# Note\n\nA short note about nothing.\n"),
                               f"note-{uuid.uuid4().hex[:6]}.md")}}


TABLE: dict[tuple[str, str], Route] = {
    ("static", "GET"): Route(lambda w, p: _get("/static/style.css"), PUBLIC, PUBLIC),
    ("health.healthz", "GET"): Route(lambda w, p: _get("/healthz"), PUBLIC, PUBLIC),
    ("auth.login", "GET"): Route(lambda w, p: _get("/login"), PUBLIC, PUBLIC),
    ("auth.login", "POST"): Route(lambda w, p: {"path": "/login", "method": "POST", "data": {
        "username": "nobody", "password": "wrong-password-123"}}, PUBLIC, PUBLIC),
    ("auth.logout", "POST"): Route(lambda w, p: {"path": "/logout", "method": "POST"}, LOGGED),
    ("auth.account_page", "GET"): Route(lambda w, p: _get("/account"), LOGGED),
    ("auth.change_password", "POST"): Route(lambda w, p: {
        "path": "/account/password", "method": "POST",
        "data": {"current": "not-the-password-1", "new": "x", "confirm": "x"}}, LOGGED),
    ("auth.new_token", "POST"): Route(lambda w, p: {"path": "/account/tokens", "method": "POST",
                                                    "data": {"name": "t"}}, LOGGED),
    ("auth.revoke", "POST"): Route(lambda w, p: {
        "path": f"/account/tokens/{w.token_id(p)}/revoke", "method": "POST"}, LOGGED),
    ("pages.ask_page", "GET"): Route(lambda w, p: _get("/"), LOGGED),
    ("library.index", "GET"): Route(lambda w, p: _get("/collections/"), LOGGED),
    ("library.create", "POST"): Route(lambda w, p: {
        "path": "/collections/", "method": "POST",
        "data": {"name": f"c{uuid.uuid4().hex[:8]}"}}, ADMIN),
    ("library.collection", "GET"): Route(lambda w, p: _get("/collections/handbook"), READ_HB),
    ("library.upload", "POST"): Route(lambda w, p: _upload("/collections/handbook/upload"),
                                      MANAGE_HB),
    ("library.delete", "POST"): Route(lambda w, p: {
        "path": f"/collections/handbook/documents/{w.scratch_doc()}/delete", "method": "POST"},
        MANAGE_HB),
    ("library.restrict", "POST"): Route(lambda w, p: {
        "path": f"/collections/handbook/documents/{w.scratch_doc()}/restrict", "method": "POST",
        "data": {"groups": "staff"}}, MANAGE_HB),
    ("sources.passage", "GET"): Route(lambda w, p: _get(f"/sources/{w.handbook_doc()[1]}"),
                                      READ_HB),
    ("sources.page_image", "GET"): Route(
        lambda w, p: _get(f"/sources/{w.handbook_doc()[0]}/page/1.png"), READ_HB),
    ("admin.index", "GET"): Route(lambda w, p: _get("/admin/"), ADMIN),
    ("admin.create_user_form", "POST"): Route(lambda w, p: {
        "path": "/admin/users", "method": "POST",
        "data": {"username": f"u{uuid.uuid4().hex[:8]}", "password": USER_PASSWORD,
                 "role": "reader"}}, ADMIN),
    ("admin.update_user_form", "POST"): Route(lambda w, p: {
        "path": f"/admin/users/{w.scratch_user()}", "method": "POST",
        "data": {"role": "curator"}}, ADMIN),
    ("admin.grant_form", "POST"): Route(lambda w, p: {
        "path": "/admin/grants", "method": "POST",
        "data": {"collection": "handbook", "group": f"g{uuid.uuid4().hex[:8]}",
                 "level": "read"}}, ADMIN),
    ("admin.export", "GET"): Route(lambda w, p: _get("/admin/audit.csv"), ADMIN),
    ("admin.sync_source_form", "POST"): Route(lambda w, p: {
        "path": f"/admin/sources/{w.scratch_source()}/sync", "method": "POST"}, ADMIN),
    ("admin_api.sources_api", "GET"): Route(lambda w, p: _get("/api/v1/admin/sources"), ADMIN),
    ("admin_api.create_source_api", "POST"): Route(lambda w, p: {
        "path": "/api/v1/admin/sources", "method": "POST",
        "json": {"collection": "handbook", "path": w.scratch_folder(), "interval_s": 0}}, ADMIN),
    ("admin_api.delete_source_api", "DELETE"): Route(lambda w, p: {
        "path": f"/api/v1/admin/sources/{w.scratch_source()}", "method": "DELETE"}, ADMIN),
    ("admin_api.sync_source_api", "POST"): Route(lambda w, p: {
        "path": f"/api/v1/admin/sources/{w.scratch_source()}/sync", "method": "POST"}, ADMIN),
    ("admin_api.users_api", "GET"): Route(lambda w, p: _get("/api/v1/admin/users"), ADMIN),
    ("admin_api.create_user_api", "POST"): Route(lambda w, p: {
        "path": "/api/v1/admin/users", "method": "POST",
        "json": {"username": f"u{uuid.uuid4().hex[:8]}", "password": USER_PASSWORD}}, ADMIN),
    ("admin_api.update_user_api", "PATCH"): Route(lambda w, p: {
        "path": f"/api/v1/admin/users/{w.scratch_user()}", "method": "PATCH",
        "json": {"groups": ["staff"]}}, ADMIN),
    ("admin_api.grants_api", "GET"): Route(
        lambda w, p: _get("/api/v1/admin/collections/handbook/grants"), ADMIN),
    ("admin_api.put_grant_api", "PUT"): Route(lambda w, p: {
        "path": f"/api/v1/admin/collections/handbook/grants/g{uuid.uuid4().hex[:8]}",
        "method": "PUT", "json": {"level": "read"}}, ADMIN),
    ("admin_api.delete_grant_api", "DELETE"): Route(lambda w, p: {
        "path": f"/api/v1/admin/collections/handbook/grants/{w.scratch_grant()}",
        "method": "DELETE"}, ADMIN),
    ("admin_api.export_api", "GET"): Route(lambda w, p: _get("/api/v1/admin/evidence"), ADMIN),
    ("admin.feedback", "GET"): Route(lambda w, p: _get("/admin/feedback"), ADMIN),
    ("admin.feedback_export", "GET"): Route(lambda w, p: _get("/admin/feedback.csv"), ADMIN),
    ("admin_api.feedback_api", "GET"): Route(lambda w, p: _get("/api/v1/admin/feedback"), ADMIN),
    ("admin_api.feedback_export_api", "GET"): Route(
        lambda w, p: _get("/api/v1/admin/feedback/export?format=csv"), ADMIN),
    # Only the one who asked rates an answer: anyone else's is a 404, admins' too.
    ("api.rate_answer", "POST"): Route(lambda w, p: {
        "path": f"/api/v1/answers/{w.answer(R)}/feedback", "method": "POST",
        "json": {"rating": "down", "comment": "wrong"}}, frozenset({R})),
    ("api.collections", "GET"): Route(lambda w, p: _get("/api/v1/collections"), LOGGED),
    ("api.create_collection", "POST"): Route(lambda w, p: {
        "path": "/api/v1/collections", "method": "POST",
        "json": {"name": f"c{uuid.uuid4().hex[:8]}"}}, ADMIN),
    ("api.documents", "GET"): Route(
        lambda w, p: _get("/api/v1/collections/handbook/documents"), READ_HB),
    ("api.upload", "POST"): Route(lambda w, p: _upload("/api/v1/collections/handbook/documents"),
                                  MANAGE_HB),
    ("api.delete_document", "DELETE"): Route(lambda w, p: {
        "path": f"/api/v1/collections/handbook/documents/{w.scratch_doc()}",
        "method": "DELETE"}, MANAGE_HB),
    ("api.document", "GET"): Route(lambda w, p: _get(f"/api/v1/documents/{w.scratch_doc()}"),
                                   READ_HB),
    ("api.document_file", "GET"): Route(
        lambda w, p: _get(f"/api/v1/documents/{w.scratch_doc()}/file"), READ_HB),
    ("api.set_restrictions", "PUT"): Route(lambda w, p: {
        "path": f"/api/v1/documents/{w.scratch_doc()}/restrictions", "method": "PUT",
        "json": {"groups": ["staff"]}}, MANAGE_HB),
    ("api.chunk", "GET"): Route(lambda w, p: _get(f"/api/v1/chunks/{w.handbook_doc()[1]}"),
                                READ_HB),
    ("api.search", "GET"): Route(
        lambda w, p: _get("/api/v1/search?query=meal+allowance&collection=handbook"), READ_HB),
    ("api.search_post", "POST"): Route(lambda w, p: {
        "path": "/api/v1/search", "method": "POST",
        "json": {"query": "meal allowance", "collection": "handbook"}}, READ_HB),
    ("api.ask", "POST"): Route(lambda w, p: {
        "path": "/api/v1/ask", "method": "POST",
        "json": {"question": "What is the daily meal allowance?", "collection": "handbook"}},
        READ_HB),
    # The API's document and reference page: like every /api/ path, a session or a token.
    ("apidocs_api.openapi_document", "GET"): Route(lambda w, p: _get("/api/v1/openapi.json"),
                                                   LOGGED, LOGGED),
    ("apidocs.reference", "GET"): Route(lambda w, p: _get("/api/v1/docs"), LOGGED, LOGGED),
    ("apidocs.static", "GET"): Route(
        lambda w, p: _get("/api/v1/docs/assets/css/swagger-ui.css"), LOGGED, LOGGED),
    # The OpenAI-compatible API: a session or a token, the same access as /api/v1/ask.
    ("openai.list_models", "GET"): Route(lambda w, p: _get("/v1/models"), LOGGED, LOGGED),
    ("openai.chat_completions", "POST"): Route(lambda w, p: {
        "path": "/v1/chat/completions", "method": "POST",
        "json": {"model": "enclave:handbook",
                 "messages": [{"role": "user", "content": "What is the daily meal allowance?"}]}},
        READ_HB, READ_HB),
    ("api.conversations", "GET"): Route(lambda w, p: _get("/api/v1/conversations"), LOGGED),
    ("api.conversation", "GET"): Route(
        lambda w, p: _get(f"/api/v1/conversations/{w.conversation(R)}"), frozenset({R})),
    # Conversations: the owner only (anyone else's, an admin's included, is a 404).
    ("api.rename_conversation", "PATCH"): Route(lambda w, p: {
        "path": f"/api/v1/conversations/{w.conversation(R)}", "method": "PATCH",
        "json": {"title": "renamed"}}, frozenset({R})),
    ("api.delete_conversation", "DELETE"): Route(lambda w, p: {
        "path": f"/api/v1/conversations/{w.conversation(R)}", "method": "DELETE"},
        frozenset({R})),
    ("conversations.index", "GET"): Route(lambda w, p: _get("/conversations/"), LOGGED),
    ("conversations.thread", "GET"): Route(
        lambda w, p: _get(f"/conversations/{w.conversation(R)}"), frozenset({R})),
    ("conversations.rename", "POST"): Route(lambda w, p: {
        "path": f"/conversations/{w.conversation(R)}/rename", "method": "POST",
        "data": {"title": "renamed"}}, frozenset({R})),
    ("conversations.delete", "POST"): Route(lambda w, p: {
        "path": f"/conversations/{w.conversation(R)}/delete", "method": "POST"}, frozenset({R})),
    # The search page: every collection the user can read (none is still a page).
    ("pages.search_page", "GET"): Route(lambda w, p: _get("/search?q=meal+allowance"), LOGGED),
    ("api.reingest_document", "POST"): Route(lambda w, p: {
        "path": f"/api/v1/collections/handbook/documents/{w.scratch_doc()}/reingest",
        "method": "POST"}, MANAGE_HB),
    # The admin console: documents (re-ingest, delete), jobs, storage.
    ("admin.documents", "GET"): Route(lambda w, p: _get("/admin/documents"), ADMIN),
    ("admin.reingest_form", "POST"): Route(lambda w, p: {
        "path": f"/admin/documents/handbook/{w.scratch_doc()}/reingest", "method": "POST"},
        ADMIN),
    ("admin.delete_document_form", "POST"): Route(lambda w, p: {
        "path": f"/admin/documents/handbook/{w.scratch_doc()}/delete", "method": "POST"}, ADMIN),
    ("admin.jobs", "GET"): Route(lambda w, p: _get("/admin/jobs"), ADMIN),
    ("admin.storage", "GET"): Route(lambda w, p: _get("/admin/storage"), ADMIN),
    ("admin_api.documents_api", "GET"): Route(lambda w, p: _get("/api/v1/admin/documents"),
                                              ADMIN),
    ("admin_api.stats_api", "GET"): Route(lambda w, p: _get("/api/v1/admin/stats"), ADMIN),
    ("jobs.list_jobs", "GET"): Route(lambda w, p: _get("/api/v1/jobs"), LOGGED),
    ("jobs.get_job", "GET"): Route(lambda w, p: _get(f"/api/v1/jobs/{w.job()}"), MANAGE_HB),
    ("jobs.cancel", "POST"): Route(lambda w, p: {
        "path": f"/api/v1/jobs/{w.job()}/cancel", "method": "POST"}, MANAGE_HB),
    ("jobs.retry", "POST"): Route(lambda w, p: {
        "path": f"/api/v1/jobs/{w.job()}/retry", "method": "POST"}, MANAGE_HB),
}
SESSION_ONLY_API: set[str] = set()


def _expected(route: Route, key: tuple[str, str], principal: str, mode: str) -> str:
    spec = route.session if mode == "session" else route.token
    if spec is None:  # tokens work on the JSON API only
        spec = route.session if key[0].startswith(("api.", "jobs.", "admin_api.")) else NOBODY
    if spec == PUBLIC:
        return "public"
    return "allow" if principal in spec else "deny"


def _outcome(resp: Any) -> str:
    if resp.status_code >= 500:
        return f"error {resp.status_code}"
    if resp.status_code in (401, 403, 404):
        return "deny"
    if resp.status_code in (301, 302, 303) and "/login?next=" in resp.headers.get("Location", ""):
        return "deny"  # sent to log in (a plain /login redirect is what logout answers)
    return "allow"


@pytest.fixture(scope="module")
def world(handbook_dir: Path, tmp_path_factory: pytest.TempPathFactory, sample_corpus: Path):  # type: ignore[no-untyped-def]
    from ingest.stack import build_ingestor
    from retrieval.acl import grant_collection
    from retrieval.catalog import get_collection
    from retrieval.stack import build_retrieval
    from tests.conftest import _client_class
    from web import create_app, start

    data = tmp_path_factory.mktemp("authz") / "data"
    shutil.copytree(handbook_dir, data)
    notes = tmp_path_factory.mktemp("finance_docs") / "budget.md"
    notes.write_text("# Budget\n\nThe finance budget for next year is kept here.\n", "utf-8")
    stack = build_retrieval(make_settings(data))
    build_ingestor(stack).ingest_paths([(notes, notes.name)], "finance")
    stack.close()

    app = start(create_app(make_settings(data, generation={"mode": "extractive"})))
    app.config["TESTING"] = True
    app.test_client_class = _client_class()
    w = World(app)
    with w.db() as db:
        grant_collection(db, get_collection(db, "handbook").id, "staff", "read")
        grant_collection(db, get_collection(db, "handbook").id, "editors", "manage")
        grant_collection(db, get_collection(db, "finance").id, "finance", "read")
        db.commit()
    make_user(app, A, "admin")
    make_user(app, C, "curator", ("editors", "staff"))
    make_user(app, R, "reader", ("staff",))
    make_user(app, D, "reader", ("staff",))
    make_user(app, O, "reader", ("finance",))
    yield w
    app.extensions["enclave"].close()


def _clients(w: World) -> dict[tuple[str, str], Any]:
    from services.accounts import get_user, set_disabled

    clients: dict[tuple[str, str], Any] = {}
    for p in PRINCIPALS:
        session_client = w.app.test_client()
        if p != N:
            assert login(session_client, p, USER_PASSWORD).status_code == 302, p
        token_client = w.app.test_client()
        if p != N:
            token_client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {make_token(w.app, p)}"
        clients[(p, "session")] = session_client
        clients[(p, "token")] = token_client
    with w.db() as db:  # disabled after logging in and getting a token: both must stop working
        set_disabled(db, get_user(db, D), True)
        db.commit()
    return clients


def test_every_route_is_in_the_table(world: World) -> None:
    """A new route must be declared here before the suite passes."""
    declared = set(TABLE)
    present = {(rule.endpoint, m) for rule in world.app.url_map.iter_rules()
               for m in rule.methods - {"HEAD", "OPTIONS"}}
    missing, stale = sorted(present - declared), sorted(declared - present)
    assert not missing, f"routes missing from the authorization table: {missing}"
    assert not stale, f"table entries for routes that do not exist: {stale}"


def test_authorization_matrix(world: World) -> None:
    clients = _clients(world)
    mismatches = []
    cells = 0
    for key, route in TABLE.items():
        for p in PRINCIPALS:
            for mode in ("session", "token"):
                expected = _expected(route, key, p, mode)
                client = clients[(p, mode)]
                kwargs = route.build(world, p)
                resp = client.open(kwargs.pop("path"), **kwargs)
                got = _outcome(resp)
                cells += 1
                # SECURITY.md row 21: every response carries the headers, every cookie the flags.
                for header, value in (("X-Content-Type-Options", "nosniff"),
                                      ("X-Frame-Options", "DENY")):
                    if resp.headers.get(header) != value:
                        mismatches.append(f"{key} {p}/{mode}: {header} missing")
                if "default-src" not in resp.headers.get("Content-Security-Policy", ""):
                    mismatches.append(f"{key} {p}/{mode}: no CSP")
                for cookie in resp.headers.getlist("Set-Cookie"):
                    if not all(f in cookie for f in ("HttpOnly", "Secure", "SameSite=Lax")):
                        mismatches.append(f"{key} {p}/{mode}: weak cookie {cookie[:60]}")
                ok = not got.startswith("error") if expected == "public" else got == expected
                if not ok:
                    mismatches.append(f"{key} {p}/{mode}: expected {expected}, got "
                                      f"{resp.status_code} {resp.get_data(as_text=True)[:120]!r}")
                if key == ("auth.logout", "POST") and mode == "session" and p != N and got == "allow":
                    assert login(client, p, USER_PASSWORD).status_code == 302
    assert cells == len(TABLE) * len(PRINCIPALS) * 2
    assert not mismatches, "\n".join(mismatches)
