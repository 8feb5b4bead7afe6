"""Administration pages under ``/admin`` and their JSON API under ``/api/v1/admin``.

Users, groups, collection grants, the audit log, answer evidence, the feedback on answers,
synced folders and the answering model: the same operations (:mod:`services.admin`, :mod:`services.feedback`,
:mod:`services.syncs`) behind the HTML pages
and the JSON API. Admins only (403 for everyone else, before any body is read).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from flask import Blueprint, Response, abort, current_app, redirect, render_template, request, url_for

from services.admin import Admin, NewUser, UserChanges
from services.errors import NotFound, ServiceError
from services.feedback import Feedback
from services.syncs import NewSource, Syncs
from web.auth.guards import actor, admin_required
from web.contract import API_PREFIX, api_blueprint, reply
from web.schemas import (
    AdminDocumentsOut,
    CollectionDocumentsOut,
    CollectionPath,
    DocumentOut,
    ExportPath,
    ExportQuery,
    FeedbackExportQuery,
    FeedbackQuery,
    GrantBody,
    GrantForm,
    GrantOut,
    GrantPath,
    GrantsOut,
    RatedAnswersOut,
    SourceCreate,
    SourceOut,
    SourcePath,
    SourcesOut,
    StorageStatsOut,
    SyncOut,
    UserCreate,
    UserCreateForm,
    UserOut,
    UserPath,
    UsersOut,
    UserUpdate,
    UserUpdateForm,
)
from web.validation import parse_form, parse_query

bp = Blueprint("admin", __name__, url_prefix="/admin")
api = api_blueprint("admin_api", __name__, API_PREFIX + "/admin", "admin",
                    "Users, groups, collection grants, the audit log, answer evidence and "
                    "feedback on answers (admins).")


def _admin() -> Admin:
    return current_app.extensions["enclave"].admin


def _feedback() -> Feedback:
    return current_app.extensions["enclave"].feedback


def _syncs() -> Syncs:
    return current_app.extensions["enclave"].syncs


def _download(export: Any) -> Response:
    return Response(export.body, mimetype=export.mimetype, headers={
        "Content-Disposition": f'attachment; filename="{export.filename}"'})


# -- HTML ------------------------------------------------------------------------------------
def _render(error: str | None = None, message: str | None = None, status: int = 200):  # type: ignore[no-untyped-def]
    view = _admin().overview(actor())
    return render_template("admin.html", users=[asdict(u) for u in view.users],
                           collections=view.collections, groups=view.groups, events=view.events,
                           evidence=view.evidence, levels=view.levels, error=error,
                           model=view.model,
                           sources=[asdict(s) for s in _syncs().list(actor())],
                           message=message), status


def _form_action(change: Callable[[], object], message: str) -> Any:
    """Run a change from a form: back to the page with a notice, or the refusal on the page."""
    try:
        change()
    except NotFound:
        raise
    except ServiceError as exc:
        return _render(error=exc.message, status=exc.status if exc.status != 404 else 400)
    return redirect(url_for("admin.index", done=message))


@bp.get("/")
@admin_required
def index():  # type: ignore[no-untyped-def]
    """Users, groups, grants, recent audit events and answers."""
    return _render(message=request.args.get("done"))


@bp.post("/users")
@admin_required
def create_user_form():  # type: ignore[no-untyped-def]
    """Create a local user."""
    form, error = parse_form(UserCreateForm)
    if form is None:
        return _render(error=error, status=422)
    new = NewUser(form.username, form.password, form.role, form.groups, form.display_name)
    return _form_action(lambda: _admin().create_user(actor(), new), "user created")


@bp.post("/users/<username>")
@admin_required
def update_user_form(username: str):  # type: ignore[no-untyped-def]
    """Change a user's role, groups, disabled flag or password (only the fields sent)."""
    form, error = parse_form(UserUpdateForm)
    if form is None:
        return _render(error=error, status=422)
    changes = UserChanges(role=form.role, groups=form.groups, password=form.password or None,
                          disabled=None if form.disabled is None else form.disabled == "true")
    return _form_action(lambda: _admin().update_user(actor(), username, changes), "user updated")


@bp.post("/grants")
@admin_required
def grant_form():  # type: ignore[no-untyped-def]
    """Grant or revoke (``level=none``) a group's access to a collection."""
    form, error = parse_form(GrantForm)
    if form is None:
        return _render(error=error, status=422)
    level = None if form.level == "none" else form.level
    return _form_action(lambda: _admin().set_grant(actor(), form.collection, form.group, level),
                        "access changed")


@bp.post("/sources/<int:source_id>/sync")
@admin_required
def sync_source_form(source_id: int):  # type: ignore[no-untyped-def]
    """Sync a folder now: its changes are queued as an ingest job."""
    found: dict[str, Any] = {}
    outcome = _form_action(lambda: found.update(_syncs().sync_now(actor(), source_id)),
                           "sync started")
    if found.get("error"):
        return _render(error=f"sync failed: {found['error']}", status=409)
    if found and found.get("job_id") is None:
        return redirect(url_for("admin.index", done="sync found no changes"))
    return outcome


@bp.get("/<any(audit, evidence):kind>.<any(csv, json):fmt>")
@admin_required
def export(kind: str, fmt: str):  # type: ignore[no-untyped-def]
    """Download the audit log or the answer evidence (``?action=&actor=`` / ``?user=&collection=``)."""
    args = request.args
    return _download(_admin().export(actor(), kind, fmt, action=args.get("action"),  # type: ignore[arg-type]
                                     actor_name=args.get("actor"), user=args.get("user"),
                                     collection=args.get("collection")))


@bp.get("/feedback")
@admin_required
def feedback():  # type: ignore[no-untyped-def]
    """Rated answers (``?rating=down|up|all&offset=``) with their sources, and the export."""
    query, error = parse_query(FeedbackQuery)
    if query is None:
        abort(422, error)
    page = _feedback().rated_answers(actor(), query.rating, query.limit, query.offset)
    return render_template("admin_feedback.html", page=asdict(page))


@bp.get("/feedback.<any(csv, jsonl):fmt>")
@admin_required
def feedback_export(fmt: str):  # type: ignore[no-untyped-def]
    """Download the rated answers (``?rating=down|up|all``) as CSV or JSON lines."""
    query, error = parse_query(FeedbackExportQuery)
    if query is None:
        abort(422, error)
    return _download(_feedback().export(actor(), fmt, query.rating))  # type: ignore[arg-type]


# -- console: documents, jobs, storage ------------------------------------------------------
@bp.get("/documents")
@admin_required
def documents():  # type: ignore[no-untyped-def]
    """Every collection's documents: status, version, size, chunks, errors; re-ingest, delete."""
    found = current_app.extensions["enclave"].inventory.documents(actor())
    return render_template("admin_documents.html", collections=[asdict(c) for c in found],
                           message=request.args.get("done"))


@bp.post("/documents/<name>/<int:document_id>/reingest")
@admin_required
def reingest_form(name: str, document_id: int):  # type: ignore[no-untyped-def]
    """Ingest a document again from its stored original (a job; its progress on Jobs)."""
    job_id = current_app.extensions["enclave"].library.reingest(actor(), name, document_id)
    return redirect(url_for("admin.jobs", done=f"re-ingest queued as job {job_id}"))


@bp.post("/documents/<name>/<int:document_id>/delete")
@admin_required
def delete_document_form(name: str, document_id: int):  # type: ignore[no-untyped-def]
    """Delete a document with its chunks and vectors."""
    current_app.extensions["enclave"].library.delete_document(actor(), name, document_id)
    return redirect(url_for("admin.documents", done="document deleted"))


@bp.get("/jobs")
@admin_required
def jobs():  # type: ignore[no-untyped-def]
    """Recent ingest jobs of every collection, with live progress."""
    return render_template("admin_jobs.html", jobs=current_app.extensions["enclave"].jobs.list(
        actor()), message=request.args.get("done"))


@bp.get("/storage")
@admin_required
def storage():  # type: ignore[no-untyped-def]
    """Catalog, vector index, keyword index and upload sizes; counts per collection."""
    stats = current_app.extensions["enclave"].inventory.stats(actor())
    return render_template("admin_storage.html", stats=asdict(stats))


# -- JSON API (bodies validated whole before anything changes) -----------------------------
@api.before_request
def _admins_only() -> None:
    """Every route of the admin API is for admins (checked before the body is validated)."""
    if not actor().is_admin:
        abort(403, "Only administrators can do this.")


@api.get("/users", responses={200: UsersOut})
def users_api():  # type: ignore[no-untyped-def]
    """All users with role, source, groups and status."""
    return reply(UsersOut(users=[UserOut(**asdict(u)) for u in _admin().users(actor())]))


@api.post("/users", responses={201: UserOut})
def create_user_api(body: UserCreate):  # type: ignore[no-untyped-def]
    """Create a local user: ``{"username", "password", "role", "groups"}``."""
    new = NewUser(body.username, body.password, body.role, body.groups, body.display_name)
    return reply(UserOut(**asdict(_admin().create_user(actor(), new))), 201)


@api.patch("/users/<username>", responses={200: UserOut})
def update_user_api(path: UserPath, body: UserUpdate):  # type: ignore[no-untyped-def]
    """Change ``role``, ``disabled``, ``groups`` or ``password`` of a user."""
    changes = UserChanges(role=body.role, disabled=body.disabled, groups=body.groups,
                          password=body.password)
    return reply(UserOut(**asdict(_admin().update_user(actor(), path.username, changes))))


@api.get("/collections/<name>/grants", responses={200: GrantsOut})
def grants_api(path: CollectionPath):  # type: ignore[no-untyped-def]
    """``{group: level}`` of a collection."""
    return reply(GrantsOut(collection=path.name, grants=_admin().grants(actor(), path.name)))


@api.put("/collections/<name>/grants/<group>", responses={200: GrantOut})
def put_grant_api(path: GrantPath, body: GrantBody):  # type: ignore[no-untyped-def]
    """Grant ``{"level": "read"|"manage"}`` to a group (effective on the next request)."""
    _admin().set_grant(actor(), path.name, path.group, body.level)
    return reply(GrantOut(collection=path.name, group=path.group, level=body.level))


@api.delete("/collections/<name>/grants/<group>", responses={204: None})
def delete_grant_api(path: GrantPath):  # type: ignore[no-untyped-def]
    """Revoke a group's grant (effective on the next request)."""
    _admin().set_grant(actor(), path.name, path.group, None)
    return "", 204


@api.get("/sources", responses={200: SourcesOut})
def sources_api():  # type: ignore[no-untyped-def]
    """Every folder synced into a collection, with its last run."""
    return reply(SourcesOut(sources=[SourceOut(**asdict(s)) for s in _syncs().list(actor())]))


@api.post("/sources", responses={201: SourceOut})
def create_source_api(body: SourceCreate):  # type: ignore[no-untyped-def]
    """Attach a folder: ``{"collection", "path", "interval_s", "enabled", "restrictions"}``.

    The path must be absolute, an existing folder, and outside the data directory.
    """
    new = NewSource(body.collection, body.path, body.interval_s, body.enabled,
                    body.restrictions)
    return reply(SourceOut(**asdict(_syncs().create(actor(), new))), 201)


@api.delete("/sources/<int:source_id>", responses={204: None})
def delete_source_api(path: SourcePath):  # type: ignore[no-untyped-def]
    """Detach a folder (its documents stay in the collection)."""
    _syncs().delete(actor(), path.source_id)
    return "", 204


@api.post("/sources/<int:source_id>/sync", responses={202: SyncOut})
def sync_source_api(path: SourcePath):  # type: ignore[no-untyped-def]
    """Sync a folder now: new, changed and deleted files are queued as one ingest job."""
    return reply(SyncOut(**_syncs().sync_now(actor(), path.source_id)), 202)


_EXPORT = {
    "description": "The records, newest first: a JSON array of objects, or CSV with "
                   "``?format=csv``.",
    "content": {"application/json": {"schema": {"type": "array",
                                                "items": {"type": "object"}}},
                "text/csv": {"schema": {"type": "string"}}},
}


@api.get("/<any(audit, evidence):kind>", responses={200: _EXPORT})
def export_api(path: ExportPath, query: ExportQuery):  # type: ignore[no-untyped-def]
    """The audit log or answer evidence as JSON (``?format=csv`` for CSV)."""
    return _download(_admin().export(actor(), path.kind, query.format, action=query.action,
                                     actor_name=query.actor, user=query.user,
                                     collection=query.collection))


@api.get("/feedback", responses={200: RatedAnswersOut})
def feedback_api(query: FeedbackQuery):  # type: ignore[no-untyped-def]
    """Rated answers, newest rating first (``?rating=down|up|all&limit=&offset=``).

    Each with its question, answer, cited and retrieved passages, rating, comment and user.
    """
    page = _feedback().rated_answers(actor(), query.rating, query.limit, query.offset)
    return reply(RatedAnswersOut(**asdict(page)))


_FEEDBACK_EXPORT = {
    "description": "Every rated answer of the filter, newest rating first: JSON lines (one "
                   "object per line), or CSV with ``?format=csv`` (nested values as JSON).",
    "content": {"application/x-ndjson": {"schema": {"type": "string"}},
                "text/csv": {"schema": {"type": "string"}}},
}


@api.get("/feedback/export", responses={200: _FEEDBACK_EXPORT})
def feedback_export_api(query: FeedbackExportQuery):  # type: ignore[no-untyped-def]
    """The rated answers (``?rating=down|up|all``) as JSON lines or ``?format=csv``."""
    return _download(_feedback().export(actor(), query.format, query.rating))


@api.get("/documents", responses={200: AdminDocumentsOut})
def documents_api():  # type: ignore[no-untyped-def]
    """Every collection with all its documents, whatever their status (failed ones with errors)."""
    found = current_app.extensions["enclave"].inventory.documents(actor())
    return reply(AdminDocumentsOut(collections=[
        CollectionDocumentsOut(name=c.name, documents=[DocumentOut(**_document(d))
                                                       for d in c.documents])
        for c in found]))


def _document(doc: Any) -> dict[str, Any]:
    return {k: v for k, v in asdict(doc).items() if k not in ("collection", "restricted_to")}


@api.get("/stats", responses={200: StorageStatsOut})
def stats_api():  # type: ignore[no-untyped-def]
    """Storage and index statistics: catalog, vector index, keyword index, uploads, per collection."""
    return reply(StorageStatsOut(**asdict(current_app.extensions["enclave"].inventory.stats(
        actor()))))
