"""Administration: users, groups, collection grants, the audit log and answer evidence.

The same operations are offered as HTML forms under ``/admin`` and as JSON under
``/api/v1/admin``; every change is written to the audit log in the same transaction.
Admins only (403 for everyone else).
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy import select
from sqlalchemy.orm import Session

from retrieval.acl import GRANT_LEVELS, Group, collection_grants, grant_collection, revoke_collection
from retrieval.catalog import Collection, get_collection
from web.auth import audit
from web.auth.accounts import (
    AccountError,
    create_user,
    get_user,
    set_disabled,
    set_groups,
    set_password,
    set_role,
    user_groups,
)
from web.auth.guards import account, admin_required
from web.auth.models import User
from web.auth.session import client_ip
from web.contract import API_PREFIX, api_blueprint, reply
from web.schemas import (
    CollectionPath,
    ExportPath,
    ExportQuery,
    GrantBody,
    GrantForm,
    GrantOut,
    GrantPath,
    GrantsOut,
    UserCreate,
    UserCreateForm,
    UserOut,
    UserPath,
    UsersOut,
    UserUpdate,
    UserUpdateForm,
)
from web.validation import parse_form

bp = Blueprint("admin", __name__, url_prefix="/admin")
api = api_blueprint("admin_api", __name__, API_PREFIX + "/admin", "admin",
                    "Users, groups, collection grants, the audit log and answer evidence (admins).")


def _services() -> Any:
    return current_app.extensions["enclave"]


def _record(db: Session, action: str, target: str, **detail: Any) -> None:
    audit.record(db, account().username, action, target, detail=detail, ip=client_ip())


def user_json(db: Session, user: User) -> dict[str, Any]:
    """A user's public fields."""
    return {"username": user.username, "display_name": user.display_name, "role": user.role,
            "source": user.source, "disabled": user.disabled,
            "groups": sorted(user_groups(db, user.id)),
            "last_login_at": user.last_login_at.isoformat() + "Z" if user.last_login_at else None}


# -- operations (shared by the forms and the JSON API) -------------------------------------
def op_create_user(db: Session, data: dict[str, Any]) -> User:
    """Create a local user: ``username, password, role, groups, display_name``."""
    user = create_user(db, str(data.get("username", "")), str(data.get("password", "")),
                       str(data.get("role") or "reader"),
                       display_name=str(data.get("display_name") or ""),
                       min_length=_services().settings.auth.min_password_length)
    groups = _group_list(data.get("groups"))
    if groups:
        set_groups(db, user, groups)
    _record(db, "user.create", user.username, role=user.role, groups=groups)
    return user


def op_update_user(db: Session, username: str, data: dict[str, Any]) -> User:
    """Change ``role``, ``disabled``, ``groups`` (local memberships) or ``password``."""
    user = get_user(db, username)
    if user is None:
        abort(404, f"no user {username!r}")
    me = account()
    if "role" in data and data["role"] != user.role:
        if user.id == me.id:
            raise AccountError("you cannot change your own role (ask another admin)")
        before = user.role
        set_role(db, user, str(data["role"]))
        _record(db, "user.role", user.username, before=before, after=user.role)
    if "disabled" in data:
        disabled = data["disabled"] in (True, "true", "1", "on", 1)
        if disabled and user.id == me.id:
            raise AccountError("you cannot disable your own account")
        if disabled != user.disabled:
            set_disabled(db, user, disabled)
            _record(db, "user.disable" if disabled else "user.enable", user.username)
    if "groups" in data:
        before = sorted(user_groups(db, user.id))
        set_groups(db, user, _group_list(data["groups"]), origin="local")
        after = sorted(user_groups(db, user.id))
        if before != after:
            _record(db, "user.groups", user.username, before=before, after=after)
    if data.get("password"):
        set_password(db, user, str(data["password"]),
                     _services().settings.auth.min_password_length)
        _record(db, "user.password_reset", user.username)
    return user


def op_grant(db: Session, collection: str, group: str, level: str | None) -> None:
    """Grant ``group`` read/manage on a collection; ``level=None`` revokes."""
    coll = get_collection(db, collection)
    if coll is None:
        abort(404, f"no collection named {collection!r}")
    group = group.strip()
    if not group:
        raise AccountError("give a group name")
    before = collection_grants(db, coll.id).get(group)
    if level is None:
        if not revoke_collection(db, coll.id, group):
            abort(404, f"the group {group!r} has no grant on {collection!r}")
    else:
        if level not in GRANT_LEVELS:
            raise AccountError(f"level must be one of {', '.join(GRANT_LEVELS)}")
        grant_collection(db, coll.id, group, level)  # type: ignore[arg-type]
    _record(db, "grant.change", f"{collection}:{group}", before=before, after=level)


def _group_list(raw: Any) -> list[str]:
    if raw in (None, ""):
        return []
    if isinstance(raw, str):
        return sorted({g.strip() for g in raw.split(",") if g.strip()})
    if isinstance(raw, list) and all(isinstance(g, str) for g in raw):
        return sorted({g.strip() for g in raw if g.strip()})
    raise AccountError("groups must be a list of names")


def _export(kind: str, fmt: str) -> Response:
    args = request.args
    with _services().stack.sessions() as db:
        if kind == "audit":
            rows = audit.audit_rows(db, action=args.get("action"), actor=args.get("actor"),
                                    limit=None)
            fields = audit.AUDIT_FIELDS
        else:
            rows = audit.evidence_rows(db, username=args.get("user"),
                                       collection=args.get("collection"), limit=None)
            fields = audit.EVIDENCE_FIELDS
        _record(db, "export", kind, format=fmt, rows=len(rows))
        db.commit()
    if fmt == "csv":
        body, mimetype = audit.to_csv(rows, fields), "text/csv"
    else:
        import json

        body, mimetype = json.dumps(rows, indent=1), "application/json"
    return Response(body, mimetype=mimetype, headers={
        "Content-Disposition": f'attachment; filename="enclave-{kind}.{fmt}"'})


# -- HTML ------------------------------------------------------------------------------------
def _render(error: str | None = None, message: str | None = None, status: int = 200):  # type: ignore[no-untyped-def]
    with _services().stack.sessions() as db:
        users = [user_json(db, u) for u in db.scalars(select(User).order_by(User.username))]
        collections = [(c.name, collection_grants(db, c.id))
                       for c in db.scalars(select(Collection).order_by(Collection.name))]
        groups = list(db.scalars(select(Group.name).order_by(Group.name)))
        events = audit.audit_rows(db, limit=50)
        evidence = audit.evidence_rows(db, limit=20)
    return render_template("admin.html", users=users, collections=collections, groups=groups,
                           events=events, evidence=evidence, levels=GRANT_LEVELS,
                           error=error, message=message), status


def _form_action(fn: Any, message: str) -> Any:
    try:
        with _services().stack.sessions() as db:
            fn(db)
            db.commit()
    except AccountError as exc:
        return _render(error=str(exc), status=400)
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
    return _form_action(lambda db: op_create_user(db, form.model_dump()), "user created")


@bp.post("/users/<username>")
@admin_required
def update_user_form(username: str):  # type: ignore[no-untyped-def]
    """Change a user's role, groups, disabled flag or password (only the fields sent)."""
    form, error = parse_form(UserUpdateForm)
    if form is None:
        return _render(error=error, status=422)
    data = form.model_dump(exclude_none=True)
    if not data.get("password"):
        data.pop("password", None)
    return _form_action(lambda db: op_update_user(db, username, data), "user updated")


@bp.post("/grants")
@admin_required
def grant_form():  # type: ignore[no-untyped-def]
    """Grant or revoke (``level=none``) a group's access to a collection."""
    form, error = parse_form(GrantForm)
    if form is None:
        return _render(error=error, status=422)
    level = None if form.level == "none" else form.level
    return _form_action(lambda db: op_grant(db, form.collection, form.group, level),
                        "access changed")


@bp.get("/<any(audit, evidence):kind>.<any(csv, json):fmt>")
@admin_required
def export(kind: str, fmt: str):  # type: ignore[no-untyped-def]
    """Download the audit log or the answer evidence (``?action=&actor=`` / ``?user=&collection=``)."""
    return _export(kind, fmt)


# -- JSON API (bodies validated whole before anything changes) -----------------------------
def _json_op(fn: Any) -> Any:
    try:
        with _services().stack.sessions() as db:
            out = fn(db)
            db.commit()
            return out
    except AccountError as exc:
        abort(400, str(exc))


@api.before_request
def _admins_only() -> None:
    """Every route of the admin API is for admins (checked before the body is validated)."""
    if not account().is_admin:
        abort(403, "Only administrators can do this.")


@api.get("/users", responses={200: UsersOut})
def users_api():  # type: ignore[no-untyped-def]
    """All users with role, source, groups and status."""
    with _services().stack.sessions() as db:
        return reply(UsersOut(users=[user_json(db, u) for u in
                                     db.scalars(select(User).order_by(User.username))]))


@api.post("/users", responses={201: UserOut})
def create_user_api(body: UserCreate):  # type: ignore[no-untyped-def]
    """Create a local user: ``{"username", "password", "role", "groups"}``."""
    data = body.model_dump()
    return _json_op(lambda db: reply(UserOut(**user_json(db, op_create_user(db, data))), 201))


@api.patch("/users/<username>", responses={200: UserOut})
def update_user_api(path: UserPath, body: UserUpdate):  # type: ignore[no-untyped-def]
    """Change ``role``, ``disabled``, ``groups`` or ``password`` of a user."""
    data = body.model_dump(exclude_unset=True, exclude_none=True)
    return _json_op(lambda db: reply(UserOut(**user_json(db, op_update_user(db, path.username,
                                                                             data)))))


@api.get("/collections/<name>/grants", responses={200: GrantsOut})
def grants_api(path: CollectionPath):  # type: ignore[no-untyped-def]
    """``{group: level}`` of a collection."""
    with _services().stack.sessions() as db:
        coll = get_collection(db, path.name)
        if coll is None:
            abort(404, f"no collection named {path.name!r}")
        return reply(GrantsOut(collection=path.name, grants=collection_grants(db, coll.id)))


@api.put("/collections/<name>/grants/<group>", responses={200: GrantOut})
def put_grant_api(path: GrantPath, body: GrantBody):  # type: ignore[no-untyped-def]
    """Grant ``{"level": "read"|"manage"}`` to a group (effective on the next request)."""
    _json_op(lambda db: op_grant(db, path.name, path.group, body.level))
    return reply(GrantOut(collection=path.name, group=path.group, level=body.level))


@api.delete("/collections/<name>/grants/<group>", responses={204: None})
def delete_grant_api(path: GrantPath):  # type: ignore[no-untyped-def]
    """Revoke a group's grant (effective on the next request)."""
    _json_op(lambda db: op_grant(db, path.name, path.group, None))
    return "", 204


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
    return _export(path.kind, query.format)
