"""Outbound requests are allowed, not assumed; API keys come only from variables meant to hold them.

The service calls URLs that researchers type (LLM endpoints) and one the operator configures (Label Studio).
Without a rule, a token holder could point an endpoint at the service itself, the cloud metadata address or
any internal port, and read the answer or time it. So:

* only ``http`` and ``https`` URLs;
* every address a host name resolves to must be a public unicast address, not the service's own, unless the
  host (by name, address or network) is listed in ``HVAE_OUTBOUND_ALLOWED_HOSTS``;
* the check runs on the resolved address at connection time, inside the HTTP transport, and the connection
  goes to exactly the address that was checked, so a name that resolves differently the second time (DNS
  rebinding) gains nothing;
* a refused host and an unreachable one read the same (``UNREACHABLE``: the transport words every failed
  connection so), so refusals make no port scanner.

``api_key_env`` names the environment variable holding an LLM key. Only names allowed by ``HVAE_LLM_KEY_ENVS``
may be read, and the service's own secrets never, whatever that setting says; a refused name and an unset one
give the same error (``KEY_ENV_REFUSED``), which tells nothing about which variables exist.
"""

from __future__ import annotations

import functools
import ipaddress
import os
import re
import socket
import ssl
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpcore
import httpcore2
import httpx
import httpx2
from django.conf import settings

UNREACHABLE = "not reachable, or not an allowed destination"
KEY_ENV_REFUSED = "not an allowed key variable, or not set"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Prefixes of the service's own configuration: never an LLM key, even if HVAE_LLM_KEY_ENVS lists one.
_OWN_SECRET_PREFIXES = ("DJANGO_", "LABEL_STUDIO_", "DATABASE_", "CELERY_", "CACHE_", "REDIS_", "POSTGRES")
_OWN_SECRET_NAMES = frozenset(
    {"SECRET_KEY", "HVAE_PUBLIC_URL", "HVAE_OUTBOUND_ALLOWED_HOSTS", "HVAE_LLM_KEY_ENVS"}
)
_ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]{0,99}")


class OutboundRefused(Exception):
    """A URL or an address the service may not connect to. The message is always ``UNREACHABLE``."""

    def __init__(self) -> None:
        super().__init__(UNREACHABLE)


class KeyEnvRefused(Exception):
    """An API-key variable that may not be read or is not set. The message is always ``KEY_ENV_REFUSED``."""

    def __init__(self) -> None:
        super().__init__(KEY_ENV_REFUSED)


# --- API-key variables --------------------------------------------------------------------------------------


def key_env_allowed(name: str, patterns: Sequence[str]) -> bool:
    """Whether ``name`` may hold an LLM key: it matches a pattern (``NAME`` or a prefix ``NAME_*``) and is none
    of the service's own settings."""
    if not _ENV_NAME.fullmatch(name):
        return False
    if name in _OWN_SECRET_NAMES or name.startswith(_OWN_SECRET_PREFIXES):
        return False
    if name.startswith("HVAE_") and not name.startswith("HVAE_LLM_KEY_"):
        return False
    for pattern in patterns:
        pattern = pattern.strip()
        if pattern.endswith("*"):
            if len(name) > len(pattern) - 1 and name.startswith(pattern[:-1]):
                return True
        elif pattern and name == pattern:
            return True
    return False


def key_env_check(name: str) -> None:
    """Refuse a variable name that may not hold a key (used when an endpoint is saved)."""
    if name and not key_env_allowed(name, settings.HVAE_LLM_KEY_ENVS):
        raise KeyEnvRefused


def key_from_env(name: str) -> str:
    """The key in the allowed, set variable ``name``; ``KeyEnvRefused`` otherwise (one message for both)."""
    if not key_env_allowed(name, settings.HVAE_LLM_KEY_ENVS):
        raise KeyEnvRefused
    key = os.environ.get(name, "")
    if not key:
        raise KeyEnvRefused
    return key


# --- Destinations -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OutboundPolicy:
    """Which destinations may be contacted: public unicast addresses, plus what the operator listed."""

    allowed_names: frozenset[str] = frozenset()
    allowed_networks: tuple[IPNetwork, ...] = ()
    own_addresses: frozenset[IPAddress] = frozenset()

    @classmethod
    def from_entries(
        cls, entries: Iterable[str], *, own_addresses: Iterable[IPAddress] = ()
    ) -> OutboundPolicy:
        names: set[str] = set()
        networks: list[IPNetwork] = []
        for entry in entries:
            entry = entry.strip().lower()
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            except ValueError:
                names.add(entry.rstrip("."))
        return cls(frozenset(names), tuple(networks), frozenset(own_addresses))

    def host_listed(self, host: str) -> bool:
        return host.lower().rstrip(".") in self.allowed_names

    def address_allowed(self, address: IPAddress) -> bool:
        if any(address in network for network in self.allowed_networks if network.version == address.version):
            return True
        return address_is_public(address) and address not in self.own_addresses

    def check_resolved(self, host: str, addresses: Sequence[str]) -> list[str]:
        """The addresses to connect to, in order; refuses unless every one is allowed (or the host is listed)."""
        if not addresses:
            raise OutboundRefused
        if self.host_listed(host):
            return list(addresses)
        for raw in addresses:
            try:
                address = ipaddress.ip_address(raw.split("%", 1)[0])
            except ValueError as exc:
                raise OutboundRefused from exc
            if not self.address_allowed(address):
                raise OutboundRefused
        return list(addresses)


def address_is_public(address: IPAddress) -> bool:
    """A global unicast address: not loopback, private, link-local, multicast, unspecified, reserved or shared."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour or (address.teredo[1] if address.teredo else None)
        if embedded is not None:
            return address_is_public(embedded)
    return (
        address.is_global
        and not address.is_multicast
        and not address.is_loopback
        and not address.is_link_local
        and not address.is_private
        and not address.is_reserved
        and not address.is_unspecified
    )


def check_url(url: str) -> str:
    """Refuse anything but an absolute http(s) URL with a host (the address is checked when connecting)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise OutboundRefused from exc
    if parts.scheme not in ("http", "https") or not parts.hostname or "\x00" in url:
        raise OutboundRefused
    if port is not None and not 0 < port < 65536:
        raise OutboundRefused
    return url


@functools.cache
def _own_addresses(hosts: tuple[str, ...]) -> frozenset[IPAddress]:
    found: set[IPAddress] = set()
    for host in hosts:
        try:
            infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            continue
        for info in infos:
            try:
                found.add(ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]))
            except ValueError:
                continue
    return frozenset(found)


def policy() -> OutboundPolicy:
    """The policy from the settings; the service's own addresses are those of this machine's name and of
    the host in ``HVAE_PUBLIC_URL`` and ``ALLOWED_HOSTS``."""
    own_hosts = [socket.gethostname(), urlsplit(settings.HVAE_PUBLIC_URL).hostname or ""]
    own_hosts += [h for h in settings.ALLOWED_HOSTS if h and "*" not in h and not h.startswith(".")]
    return OutboundPolicy.from_entries(
        settings.HVAE_OUTBOUND_ALLOWED_HOSTS, own_addresses=_own_addresses(tuple(sorted(set(own_hosts))))
    )


def _addresses(infos: Iterable[Any]) -> list[str]:
    seen: list[str] = []
    for info in infos:
        address = str(info[4][0])
        if address not in seen:
            seen.append(address)
    return seen


# --- Transports: the check at connection time ----------------------------------------------------------------


class _GuardedAsyncBackend(httpcore2.AsyncNetworkBackend):
    """Resolves the host itself, checks every address, then connects to a checked address (TLS still
    verifies the certificate against the host name, which the connection keeps)."""

    def __init__(self, rules: OutboundPolicy) -> None:
        self._rules = rules
        self._inner = httpcore2.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        try:
            with anyio.fail_after(timeout):
                infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except TimeoutError as exc:
            raise httpcore2.ConnectTimeout(UNREACHABLE) from exc
        except (OSError, UnicodeError) as exc:
            raise httpcore2.ConnectError(UNREACHABLE) from exc
        try:
            addresses = self._rules.check_resolved(host, _addresses(infos))
        except OutboundRefused as exc:
            raise httpcore2.ConnectError(UNREACHABLE) from exc
        last: Exception = httpcore2.ConnectError(UNREACHABLE)
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except httpcore2.ConnectTimeout:
                last = httpcore2.ConnectTimeout(UNREACHABLE)
            except httpcore2.ConnectError:
                last = httpcore2.ConnectError(UNREACHABLE)
        raise last

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore2.AsyncNetworkStream:
        raise httpcore2.ConnectError(UNREACHABLE)

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _GuardedSyncBackend(httpcore.NetworkBackend):
    """The synchronous twin of ``_GuardedAsyncBackend`` (httpx 0.28 / httpcore 1, used for Label Studio)."""

    def __init__(self, rules: OutboundPolicy) -> None:
        self._rules = rules
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            addresses = self._rules.check_resolved(host, _addresses(infos))
        except (OSError, UnicodeError, OutboundRefused) as exc:
            raise httpcore.ConnectError(UNREACHABLE) from exc
        last: Exception = httpcore.ConnectError(UNREACHABLE)
        for address in addresses:
            try:
                return self._inner.connect_tcp(
                    address, port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except httpcore.ConnectTimeout:
                last = httpcore.ConnectTimeout(UNREACHABLE)
            except httpcore.ConnectError:
                last = httpcore.ConnectError(UNREACHABLE)
        raise last

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError(UNREACHABLE)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _GuardedSync2Backend(httpcore2.NetworkBackend):
    """The same for the ``openai`` SDK's synchronous client (httpx2 / httpcore2), used by endpoint probes."""

    def __init__(self, rules: OutboundPolicy) -> None:
        self._rules = rules
        self._inner = httpcore2.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore2.NetworkStream:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            addresses = self._rules.check_resolved(host, _addresses(infos))
        except (OSError, UnicodeError, OutboundRefused) as exc:
            raise httpcore2.ConnectError(UNREACHABLE) from exc
        last: Exception = httpcore2.ConnectError(UNREACHABLE)
        for address in addresses:
            try:
                return self._inner.connect_tcp(
                    address, port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except httpcore2.ConnectTimeout:
                last = httpcore2.ConnectTimeout(UNREACHABLE)
            except httpcore2.ConnectError:
                last = httpcore2.ConnectError(UNREACHABLE)
        raise last

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore2.NetworkStream:
        raise httpcore2.ConnectError(UNREACHABLE)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class GuardedAsyncTransport(httpx2.AsyncHTTPTransport):
    """``httpx2`` transport (the ``openai`` SDK's async client) that connects only to allowed addresses."""

    def __init__(
        self,
        *,
        limits: httpx2.Limits | None = None,
        rules: OutboundPolicy | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        limits = limits or httpx2.Limits()
        super().__init__(limits=limits, trust_env=False)
        self._pool = httpcore2.AsyncConnectionPool(
            ssl_context=ssl_context or httpx2.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_GuardedAsyncBackend(rules or policy()),
        )


class GuardedSync2Transport(httpx2.HTTPTransport):
    """``httpx2`` transport (the ``openai`` SDK's sync client) that connects only to allowed addresses."""

    def __init__(self, *, rules: OutboundPolicy | None = None) -> None:
        super().__init__(trust_env=False)
        self._pool = httpcore2.ConnectionPool(
            ssl_context=httpx2.create_ssl_context(trust_env=False),
            network_backend=_GuardedSync2Backend(rules or policy()),
        )


class GuardedTransport(httpx.HTTPTransport):
    """``httpx`` transport (the Label Studio adapter) that connects only to allowed addresses."""

    def __init__(self, *, rules: OutboundPolicy | None = None) -> None:
        super().__init__(trust_env=False)
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            network_backend=_GuardedSyncBackend(rules or policy()),
        )
