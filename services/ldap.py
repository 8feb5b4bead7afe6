"""Log users in against an LDAP directory (OpenLDAP, 389-ds, Active Directory, ...).

The flow is the usual "search, then bind":

1. connect (optionally StartTLS) and bind as the service account from the settings, or
   anonymously when none is configured, to find the user's entry under ``user_base``;
2. bind as that entry's DN with the password the user typed, on a second connection;
3. read the user's groups under ``group_base`` and turn them into Enclave groups and a role.

Every value put into a filter is escaped. An empty password never reaches the server: a simple
bind with a DN and no password is an RFC 4513 "unauthenticated bind", which many servers accept.
"""

from __future__ import annotations

import logging
import math
import re
import ssl
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass

from ldap3 import ANONYMOUS, NONE, SIMPLE, SUBTREE, Connection, Server, Tls
from ldap3.core import exceptions as ldap_exc
from ldap3.utils.conv import escape_filter_chars

from config.settings import LdapSettings

__all__ = ["LdapIdentity", "LdapUnavailable", "ldap_authenticate"]

log = logging.getLogger(__name__)

MAX_USERNAME_LENGTH = 200
ROLE_ADMIN = "admin"
ROLE_CURATOR = "curator"
ROLE_READER = "reader"

# LDAP result codes handled by name
_SUCCESS = 0
_SIZE_LIMIT_EXCEEDED = 4
_NO_SUCH_OBJECT = 32

# Errors meaning "the directory could not be talked to" rather than "wrong credentials".
_TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (
    ldap_exc.LDAPCommunicationError,  # socket open/send/receive/close, session terminated
    ldap_exc.LDAPStartTLSError,
    ldap_exc.LDAPSSLConfigurationError,
    ldap_exc.LDAPResponseTimeoutError,
    ldap_exc.LDAPMaximumRetriesError,
    OSError,
)

# "(uid={username})" -> "uid": the attribute that holds the login name.
_USERNAME_ATTR = re.compile(r"\(\s*([A-Za-z][A-Za-z0-9-]*(?:;[A-Za-z0-9-]+)*)\s*=\s*\{username\}\s*\)")


@dataclass(frozen=True, slots=True)
class LdapIdentity:
    """A user the directory vouched for.

    Attributes:
        username: The login name as stored in the directory (e.g. the ``uid`` value), lowercased.
        dn: The user's distinguished name.
        display_name: The user's name for display (``display_name_attribute``), or the username.
        groups: Enclave group names, after ``group_map``.
        role: ``"admin"``, ``"curator"`` or ``"reader"``, from the LDAP group names.

    """

    username: str
    dn: str
    display_name: str
    groups: frozenset[str]
    role: str


class LdapUnavailable(RuntimeError):
    """The directory cannot be reached or refused the service bind.

    The message is meant for people (logs, the login page) and never contains a password.
    """


def ldap_authenticate(cfg: LdapSettings, username: str, password: str) -> LdapIdentity | None:
    """Check ``username``/``password`` against the directory.

    Args:
        cfg: The LDAP settings.
        username: The login name the user typed.
        password: The password the user typed.

    Returns:
        The user's identity, or ``None`` when the user is unknown, ambiguous (more than one entry
        matches), the password is wrong or empty, or the username is unusable (control characters,
        longer than 200 characters).

    Raises:
        LdapUnavailable: The directory cannot be reached, timed out, failed StartTLS or refused
            the service account's bind.

    """
    username = (username or "").strip()
    if not _usable_username(username) or not password:
        return None
    secrets = [s for s in (password, cfg.bind_password) if s]
    try:
        return _authenticate(cfg, username, password)
    except LdapUnavailable as exc:
        raise LdapUnavailable(_redact(str(exc), secrets)) from None
    except _TRANSPORT_ERRORS as exc:
        message = _redact(f"LDAP directory {cfg.url} unavailable: {_describe(exc)}", secrets)
        raise LdapUnavailable(message) from None


# -- the flow -----------------------------------------------------------------------------
def _authenticate(cfg: LdapSettings, username: str, password: str) -> LdapIdentity | None:
    server = _server(cfg)
    with _service_connection(cfg, server) as conn:
        found = _find_user(cfg, conn, username)
        if found is None:
            return None
        dn, attributes = found
        if not _user_bind(cfg, server, dn, password):
            log.info("LDAP login refused for %r (%s)", username, dn)
            return None
        stored_name = _first(attributes.get(_username_attribute(cfg)))
        display_name = _first(attributes.get(cfg.display_name_attribute))
        login = (stored_name or username).lower()
        ldap_groups = _find_groups(cfg, conn, dn, stored_name or username)
    groups, role = _map_groups(cfg, ldap_groups)
    return LdapIdentity(
        username=login, dn=dn, display_name=display_name or login, groups=groups, role=role
    )


def _server(cfg: LdapSettings) -> Server:
    # ldap3's default Tls() does not verify certificates; verify them against the system CAs.
    tls = Tls(validate=ssl.CERT_REQUIRED)
    return Server(cfg.url, connect_timeout=cfg.timeout_s, get_info=NONE, tls=tls)


def _connection(cfg: LdapSettings, server: Server, user: str | None, password: str | None) -> Connection:
    return Connection(
        server,
        user=user or None,
        password=password or None,
        authentication=SIMPLE if user else ANONYMOUS,
        # ldap3 packs the receive timeout into SO_RCVTIMEO as whole seconds: a float breaks it
        receive_timeout=max(1, math.ceil(cfg.timeout_s)),
        auto_referrals=False,
        read_only=True,
        raise_exceptions=False,
    )


def _open(cfg: LdapSettings, conn: Connection) -> None:
    conn.open()
    if cfg.start_tls and not conn.server.ssl and not conn.start_tls():
        raise LdapUnavailable(f"StartTLS with {cfg.url} failed: {_result_text(conn)}")


@contextmanager
def _service_connection(cfg: LdapSettings, server: Server) -> Iterator[Connection]:
    """The service account's bound connection (anonymous without ``bind_dn``), unbound on exit."""
    if cfg.bind_dn and not cfg.bind_password:
        # would be an unauthenticated bind: anonymous access under the service account's name
        raise LdapUnavailable("LDAP bind_dn is set but bind_password is empty")
    conn = _connection(cfg, server, cfg.bind_dn, cfg.bind_password)
    try:
        _open(cfg, conn)
        if not conn.bind():
            who = cfg.bind_dn or "anonymous"
            raise LdapUnavailable(
                f"LDAP directory {cfg.url} refused the service bind as {who}: {_result_text(conn)}"
            )
        yield conn
    finally:
        _close(conn)


def _find_user(cfg: LdapSettings, conn: Connection, username: str) -> tuple[str, dict] | None:
    search_filter = cfg.user_filter.replace("{username}", escape_filter_chars(username))
    attributes = sorted({_username_attribute(cfg), cfg.display_name_attribute})
    conn.search(cfg.user_base, search_filter, search_scope=SUBTREE, attributes=attributes, size_limit=2)
    code = conn.result.get("result")
    entries = [r for r in conn.response or [] if r.get("type") == "searchResEntry"]
    if code == _NO_SUCH_OBJECT:
        log.warning("LDAP user_base %r does not exist", cfg.user_base)
        return None
    if code not in (_SUCCESS, _SIZE_LIMIT_EXCEEDED):
        raise LdapUnavailable(f"LDAP user search failed: {_result_text(conn)}")
    if len(entries) != 1 or code == _SIZE_LIMIT_EXCEEDED:
        if entries:
            log.warning("LDAP user filter matches more than one entry for %r; refusing", username)
        return None
    entry = entries[0]
    if not entry.get("dn"):
        return None
    return entry["dn"], dict(entry.get("attributes") or {})


def _user_bind(cfg: LdapSettings, server: Server, dn: str, password: str) -> bool:
    if not dn or not password:  # never an anonymous or unauthenticated bind
        return False
    conn = _connection(cfg, server, dn, password)
    try:
        _open(cfg, conn)
        return bool(conn.bind())
    except ldap_exc.LDAPBindError:
        return False
    finally:
        _close(conn)


def _find_groups(cfg: LdapSettings, conn: Connection, dn: str, username: str) -> list[str]:
    search_filter = cfg.group_filter.replace("{user_dn}", escape_filter_chars(dn)).replace(
        "{username}", escape_filter_chars(username)
    )
    conn.search(cfg.group_base, search_filter, search_scope=SUBTREE, attributes=[cfg.group_name_attribute])
    code = conn.result.get("result")
    if code == _NO_SUCH_OBJECT:
        log.warning("LDAP group_base %r does not exist", cfg.group_base)
        return []
    if code not in (_SUCCESS, _SIZE_LIMIT_EXCEEDED):
        raise LdapUnavailable(f"LDAP group search failed: {_result_text(conn)}")
    names = []
    for entry in conn.response or []:
        if entry.get("type") != "searchResEntry":
            continue
        name = _first((entry.get("attributes") or {}).get(cfg.group_name_attribute))
        if name:
            names.append(name)
    return names


def _map_groups(cfg: LdapSettings, ldap_groups: list[str]) -> tuple[frozenset[str], str]:
    """Enclave groups (after ``group_map``) and the role for LDAP group names (case-insensitive)."""
    folded = {name.casefold() for name in ldap_groups}
    if cfg.group_map:
        mapping = {key.casefold(): value for key, value in cfg.group_map.items()}
        groups = frozenset(mapping[name] for name in folded if name in mapping)
    else:
        groups = frozenset(ldap_groups)
    if folded & {g.casefold() for g in cfg.admin_groups}:
        role = ROLE_ADMIN
    elif folded & {g.casefold() for g in cfg.curator_groups}:
        role = ROLE_CURATOR
    else:
        role = ROLE_READER
    return groups, role


# -- helpers ------------------------------------------------------------------------------
def _usable_username(username: str) -> bool:
    if not username or len(username) > MAX_USERNAME_LENGTH:
        return False
    return not any(unicodedata.category(ch) in ("Cc", "Cf") for ch in username)


def _username_attribute(cfg: LdapSettings) -> str:
    match = _USERNAME_ATTR.search(cfg.user_filter)
    return match.group(1) if match else "uid"


def _first(value: object) -> str:
    if isinstance(value, list | tuple):
        value = value[0] if value else ""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return str(value) if value is not None else ""


def _close(conn: Connection) -> None:
    with suppress(Exception):  # closing a broken connection must not hide the real error
        if not conn.closed:
            conn.unbind()


def _result_text(conn: Connection) -> str:
    result = conn.result or {}
    text = str(result.get("description") or "error")
    if result.get("message"):
        text += f" ({result['message']})"
    return text


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _redact(message: str, secrets: list[str]) -> str:
    for secret in secrets:
        message = message.replace(secret, "***")
    return message
