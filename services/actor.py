"""Who is acting: a person through the web app or the API, or the local administrator's CLI."""

from __future__ import annotations

from dataclasses import dataclass

from retrieval.acl import Principal

CLI = "cli"


@dataclass(frozen=True, slots=True)
class Actor:
    """The one on whose behalf a service acts (``via``: session, token or cli)."""

    user_id: int | None
    username: str
    role: str
    principal: Principal
    via: str = "session"
    ip: str = ""

    @property
    def is_admin(self) -> bool:
        """Admins manage users, groups and every collection."""
        return self.role == "admin"

    @classmethod
    def cli(cls) -> Actor:
        """The local administrator running a command (audited as ``cli``)."""
        return cls(None, CLI, "admin", Principal(CLI, frozenset(), is_admin=True), via=CLI)
