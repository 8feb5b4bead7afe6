"""The web pages' forms: a malformed post changes nothing and the page says why.

Values arrive as text; the CSRF token and submit buttons are ignored. Group lists are
comma-separated, names are stripped of surrounding spaces before they are checked.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from web.schemas.types import (
    MAX_SCOPE,
    CollectionName,
    GroupName,
    Role,
    UserName,
    text_field,
    union_scope,
)


def _comma_list(value: Any) -> Any:
    if isinstance(value, str):
        return [name.strip() for name in value.split(",") if name.strip()]
    return value


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


GroupList = Annotated[list[GroupName], BeforeValidator(_comma_list), Field(max_length=100)]


class Form(BaseModel):
    """A posted HTML form (values are text; the CSRF token and buttons are ignored)."""

    model_config = ConfigDict(extra="ignore")


class CollectionForm(Form):
    """New collection (admins)."""

    name: Annotated[CollectionName, BeforeValidator(_strip)]


class UserCreateForm(Form):
    """New local user (admin page)."""

    username: Annotated[UserName, BeforeValidator(_strip)]
    password: text_field(1000, 1)  # type: ignore[valid-type]
    role: Role = "reader"
    groups: GroupList = Field(default_factory=list)
    display_name: text_field(200) = ""  # type: ignore[valid-type]


class UserUpdateForm(Form):
    """Change of a user (admin page): only the fields sent change; an empty password is none."""

    role: Role | None = None
    groups: GroupList | None = None
    password: text_field(1000) | None = None  # type: ignore[valid-type]
    disabled: Literal["true", "false"] | None = None


class GrantForm(Form):
    """Grant (or, with ``none``, revoke) a group's access to a collection (admin page)."""

    collection: CollectionName
    group: Annotated[GroupName, BeforeValidator(_strip)]
    level: Literal["read", "manage", "none"] = "read"


class RestrictForm(Form):
    """Who may read a document: comma-separated groups (required; empty lifts the restriction)."""

    groups: text_field(20_000)  # type: ignore[valid-type]


class LoginForm(Form):
    """The login form (an empty password is refused by the login itself, not here)."""

    username: Annotated[text_field(200), BeforeValidator(_strip)] = ""  # type: ignore[valid-type]
    password: text_field(1000) = ""  # type: ignore[valid-type]


class TokenForm(Form):
    """New API token (account page)."""

    name: Annotated[text_field(100), BeforeValidator(_strip)] = ""  # type: ignore[valid-type]


ALL_COLLECTIONS = "*"  # the scope selector's "every collection you can read"
SEVERAL_COLLECTIONS = "+"  # the scope selector's "several collections" (ticked below it)


class ScopeForm(Form):
    """The scope selector of the ask and search pages.

    ``collection`` is a collection, ``*`` for every collection you can read, or ``+`` for the
    ``collections`` ticked (empty: every collection you can read).
    """

    collection: Literal["", "*", "+"] | CollectionName = ""
    collections: list[CollectionName] = Field(default_factory=list, max_length=MAX_SCOPE)

    def scope(self) -> list[str] | None:
        """The collections chosen (None: every collection you can read)."""
        if self.collection == SEVERAL_COLLECTIONS:
            return union_scope(None, self.collections)
        if self.collection in ("", ALL_COLLECTIONS):
            return None
        return [self.collection]


class SearchPageQuery(ScopeForm):
    """The search page's address: ``?q=`` and the scope."""

    q: Annotated[text_field(2000), BeforeValidator(_strip)] = ""  # type: ignore[valid-type]
    k: Annotated[int, Field(ge=1, le=50)] = 10


class ConversationRenameForm(Form):
    """A conversation's new title (conversations page)."""

    title: Annotated[text_field(200, 1), BeforeValidator(_strip)]  # type: ignore[valid-type]


class PasswordForm(Form):
    """Password change (account page)."""

    current: text_field(1000)  # type: ignore[valid-type]
    new: text_field(1000)  # type: ignore[valid-type]
    confirm: text_field(1000)  # type: ignore[valid-type]
