"""Loaded automatically by Python when this folder is on PYTHONPATH (the offline test).

Blocks and records every attempt to reach a non-loopback address: connects, UDP sends and
DNS look-ups of other hosts. The record goes to $ENCLAVE_NETGUARD_LOG, one line per attempt.
"""

import ipaddress
import os
import socket

_LOG = os.environ.get("ENCLAVE_NETGUARD_LOG", "")
_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", ""}


def _record(what: str) -> None:
    if _LOG:
        with open(_LOG, "a", encoding="utf-8") as fh:
            fh.write(what + "\n")


def _is_loopback(host: object) -> bool:
    if not isinstance(host, str):
        return True  # AF_UNIX paths and the like
    if host in _LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def _check(address: object, what: str) -> None:
    host = address[0] if isinstance(address, tuple) else address
    if not _is_loopback(host):
        _record(f"{what} {address!r}")
        raise OSError(101, f"network blocked by the offline test: {address!r}")


_connect = socket.socket.connect
_connect_ex = socket.socket.connect_ex
_sendto = socket.socket.sendto
_getaddrinfo = socket.getaddrinfo


def _guarded_connect(self, address):  # type: ignore[no-untyped-def]
    if self.family in (socket.AF_INET, socket.AF_INET6):
        _check(address, "connect")
    return _connect(self, address)


def _guarded_connect_ex(self, address):  # type: ignore[no-untyped-def]
    if self.family in (socket.AF_INET, socket.AF_INET6):
        _check(address, "connect_ex")
    return _connect_ex(self, address)


def _guarded_sendto(self, data, *args):  # type: ignore[no-untyped-def]
    if self.family in (socket.AF_INET, socket.AF_INET6):
        _check(args[-1], "sendto")
    return _sendto(self, data, *args)


def _guarded_getaddrinfo(host, *args, **kwargs):  # type: ignore[no-untyped-def]
    name = host.decode() if isinstance(host, bytes) else host
    if name is not None and not _is_loopback(name):
        _record(f"getaddrinfo {name!r}")
        raise socket.gaierror(socket.EAI_NONAME, f"DNS blocked by the offline test: {name}")
    return _getaddrinfo(host, *args, **kwargs)


socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]
socket.socket.sendto = _guarded_sendto  # type: ignore[method-assign]
socket.getaddrinfo = _guarded_getaddrinfo
