"""A throw-away OpenLDAP server (Debian's slapd) for LDAP login tests.

``slapd`` (session fixture) starts ``/usr/sbin/slapd`` on 127.0.0.1 on a free port, with its
config and database in a temporary folder, and loads a small test tree as the rootdn::

    dc=example,dc=org
      cn=admin                      the rootdn (not an entry; password ADMIN_PASSWORD)
      ou=people                     alice, bob, carol (passwords in USERS), dave (no userPassword)
      ou=groups                     groupOfNames: hr (alice), finance (bob),
                                    enclave-admins (carol), curators (alice)

The server allows "unauthenticated binds" (a DN with an empty password: ``allow bind_anon_dn``),
as many directories do, so a client that sends an empty password would be let in: tests can
prove that ours never does. Import the fixture into a test module with
``from tests.services.slapd import slapd  # noqa: F401``.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

SLAPD = Path("/usr/sbin/slapd")
MODULE_DIR = Path("/usr/lib/ldap")
SCHEMA_DIR = Path("/etc/ldap/schema")
SCHEMAS = ("core", "cosine", "inetorgperson", "nis")
MISSING_REASON = "install slapd (make system-deps)"

BASE = "dc=example,dc=org"
ADMIN_DN = f"cn=admin,{BASE}"
ADMIN_PASSWORD = "admin-password-0"
PEOPLE = f"ou=people,{BASE}"
GROUPS = f"ou=groups,{BASE}"

# uid -> (cn, password or None for an entry without userPassword)
USERS: dict[str, tuple[str, str | None]] = {
    "alice": ("Alice Liddell", "alice-password-1"),
    "bob": ("Bob Builder", "bob-password-22"),
    "carol": ("Carol Danvers", "carol-password-3"),
    "dave": ("Dave Nopass", None),
}
# group cn -> member uids
GROUP_MEMBERS: dict[str, list[str]] = {
    "hr": ["alice"],
    "finance": ["bob"],
    "enclave-admins": ["carol"],
    "curators": ["alice"],
}

START_TIMEOUT_S = 10.0

SLAPD_CONF = """\
{includes}
modulepath {module_dir}
moduleload back_mdb

pidfile {workdir}/slapd.pid
argsfile {workdir}/slapd.args
# many real directories accept "DN + empty password" as an anonymous bind (RFC 4513 5.1.2)
allow bind_anon_dn

database mdb
maxsize 16777216
suffix "{base}"
rootdn "{admin_dn}"
rootpw {admin_password}
directory {workdir}/db

access to attrs=userPassword
    by anonymous auth
    by self write
    by * none
access to *
    by * read
"""


def user_dn(uid: str) -> str:
    """The DN of test user ``uid``."""
    return f"uid={uid},{PEOPLE}"


def group_dn(cn: str) -> str:
    """The DN of test group ``cn``."""
    return f"cn={cn},{GROUPS}"


@dataclass
class Slapd:
    """A running throw-away slapd with the test tree loaded."""

    url: str
    port: int
    workdir: Path
    process: subprocess.Popen[bytes]
    base: str = BASE
    admin_dn: str = ADMIN_DN
    admin_password: str = ADMIN_PASSWORD
    users: dict[str, tuple[str, str | None]] = field(default_factory=lambda: dict(USERS))

    def settings(self, **overrides: Any) -> Any:
        """``LdapSettings`` for this server (service bind as the rootdn), with ``overrides``."""
        from config.settings import LdapSettings

        values: dict[str, Any] = {
            "enabled": True,
            "url": self.url,
            "bind_dn": self.admin_dn,
            "bind_password": self.admin_password,
            "user_base": PEOPLE,
            "group_base": GROUPS,
            "timeout_s": 5,
        }
        values.update(overrides)
        return LdapSettings(**values)

    def password(self, uid: str) -> str:
        """Test user ``uid``'s password."""
        password = self.users[uid][1]
        assert password is not None, f"{uid} has no password"
        return password

    def admin_connection(self) -> Any:
        """An ldap3 connection bound as the rootdn (unbind it when done)."""
        from ldap3 import Connection, Server

        return Connection(
            Server(self.url, connect_timeout=5), self.admin_dn, self.admin_password,
            auto_bind=True, raise_exceptions=True, receive_timeout=5,
        )

    def stop(self) -> None:
        """Stop the server and remove its folder (safe to call twice)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        shutil.rmtree(self.workdir, ignore_errors=True)


# -- starting -----------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    """Have the kernel SIGTERM slapd if the test process dies without a teardown (Linux)."""
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _write_config(workdir: Path) -> Path:
    (workdir / "db").mkdir(parents=True, exist_ok=True)
    includes = "\n".join(f"include {SCHEMA_DIR / name}.schema" for name in SCHEMAS)
    conf = workdir / "slapd.conf"
    conf.write_text(
        SLAPD_CONF.format(
            includes=includes, module_dir=MODULE_DIR, workdir=workdir, base=BASE,
            admin_dn=ADMIN_DN, admin_password=ADMIN_PASSWORD,
        ),
        encoding="utf-8",
    )
    return conf


def _stderr(workdir: Path) -> str:
    try:
        return (workdir / "slapd.stderr").read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return ""


def _launch(workdir: Path, conf: Path, port: int) -> subprocess.Popen[bytes]:
    url = f"ldap://127.0.0.1:{port}/"
    with open(workdir / "slapd.stderr", "wb") as err:
        return subprocess.Popen(
            # -d 0: stay in the foreground (no fork, so we own the process) and log nothing
            [str(SLAPD), "-f", str(conf), "-h", url, "-d", "0"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
            preexec_fn=_die_with_parent,
        )


def _wait_ready(process: subprocess.Popen[bytes], port: int, deadline: float) -> bool:
    """Until ``deadline``: True once the port accepts connections, False if slapd exited."""
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def start_slapd(workdir: Path | None = None) -> Slapd:
    """Start slapd on a free port and load the test tree; fails clearly (with slapd's stderr)."""
    workdir = Path(workdir or tempfile.mkdtemp(prefix="enclave-slapd-"))
    conf = _write_config(workdir)
    deadline = time.monotonic() + START_TIMEOUT_S
    for _attempt in range(3):  # another process may grab the free port before slapd binds it
        port = _free_port()
        process = _launch(workdir, conf, port)
        if _wait_ready(process, port, deadline):
            server = Slapd(url=f"ldap://127.0.0.1:{port}", port=port, workdir=workdir, process=process)
            try:
                _load_tree(server)
            except BaseException:
                server.stop()
                raise
            return server
        exited = process.poll() is not None
        if not exited:
            process.kill()
            process.wait(timeout=5)
        stderr = _stderr(workdir)
        if not exited or "Address already in use" not in stderr or time.monotonic() >= deadline:
            shutil.rmtree(workdir, ignore_errors=True)
            state = f"exited with status {process.returncode}" if exited else "not accepting connections"
            raise RuntimeError(
                f"slapd did not start within {START_TIMEOUT_S:.0f} s on 127.0.0.1:{port} ({state}).\n"
                f"command: {SLAPD} -f {conf} -h ldap://127.0.0.1:{port}/ -d 0\n"
                f"stderr:\n{stderr or '(empty)'}"
            )
    shutil.rmtree(workdir, ignore_errors=True)
    raise RuntimeError("slapd could not get a free port on 127.0.0.1 in 3 attempts")


def _load_tree(server: Slapd) -> None:
    from ldap3 import HASHED_SALTED_SHA
    from ldap3.utils.hashed import hashed

    conn = server.admin_connection()
    try:
        conn.add(BASE, ["dcObject", "organization"], {"dc": "example", "o": "Example Org"})
        conn.add(PEOPLE, ["organizationalUnit"], {"ou": "people"})
        conn.add(GROUPS, ["organizationalUnit"], {"ou": "groups"})
        for uid, (cn, password) in USERS.items():
            attrs: dict[str, Any] = {
                "uid": uid, "cn": cn, "sn": cn.split()[-1], "mail": f"{uid}@example.org",
            }
            if password is not None:
                attrs["userPassword"] = hashed(HASHED_SALTED_SHA, password)
            conn.add(user_dn(uid), ["inetOrgPerson"], attrs)
        for cn, members in GROUP_MEMBERS.items():
            conn.add(group_dn(cn), ["groupOfNames"], {"cn": cn, "member": [user_dn(m) for m in members]})
    finally:
        conn.unbind()


@pytest.fixture(scope="session")
def slapd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Slapd]:
    """A throw-away slapd with the test tree, for the whole session (killed at teardown)."""
    if not (SLAPD.is_file() and os.access(SLAPD, os.X_OK)) or not (MODULE_DIR / "back_mdb.so").exists():
        if os.environ.get("CI"):
            pytest.fail(MISSING_REASON)
        pytest.skip(MISSING_REASON)
    server = start_slapd(tmp_path_factory.mktemp("slapd"))
    try:
        yield server
    finally:
        server.stop()
