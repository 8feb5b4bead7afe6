"""Your conversations: the list (rename, delete) and each one's own page (its permalink).

Only the owner opens a conversation: anyone else's, an admin's included, and a deleted one
answer 404, the same as an unknown id (:meth:`services.ask.Asking.conversation`).
"""

from __future__ import annotations

from dataclasses import asdict

from flask import Blueprint, current_app, redirect, render_template, url_for

from services.ask import Asking, describe_scope
from web.auth.guards import actor
from web.schemas import ConversationRenameForm
from web.validation import parse_form

bp = Blueprint("conversations", __name__, url_prefix="/conversations")


def _asking() -> Asking:
    return current_app.extensions["enclave"].asking


def _render_list(error: str | None = None, status: int = 200):  # type: ignore[no-untyped-def]
    rows = [asdict(c) | {"scope": describe_scope(c.collection)}
            for c in _asking().conversations(actor())]
    return render_template("conversations.html", conversations=rows, error=error), status


@bp.get("/")
def index():  # type: ignore[no-untyped-def]
    """Your conversations, newest first, each with its link, rename and delete."""
    return _render_list()


@bp.get("/<int:conversation_id>")
def thread(conversation_id: int):  # type: ignore[no-untyped-def]
    """One of your conversations as a chat: its questions, answers and cited sources."""
    found = _asking().conversation(actor(), conversation_id)
    return render_template("conversation.html", conversation=asdict(found),
                           scope=describe_scope(found.collection))


@bp.post("/<int:conversation_id>/rename")
def rename(conversation_id: int):  # type: ignore[no-untyped-def]
    """Give one of your conversations a new title."""
    _asking().conversation(actor(), conversation_id)  # 404 before the form is read
    form, error = parse_form(ConversationRenameForm)
    if form is None:
        return _render_list(error, 422)
    _asking().rename_conversation(actor(), conversation_id, form.title)
    return redirect(url_for("conversations.index"))


@bp.post("/<int:conversation_id>/delete")
def delete(conversation_id: int):  # type: ignore[no-untyped-def]
    """Delete one of your conversations (its answers stay as evidence for the audit)."""
    _asking().delete_conversation(actor(), conversation_id)
    return redirect(url_for("conversations.index"))
