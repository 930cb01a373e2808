"""Outbound requests: only allowed destinations, decided on the resolved address when connecting; API keys only
from variables meant to hold them; one message for every refusal."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import threading
from collections.abc import Iterator
from typing import Any

import anyio
import pytest

from annotation.labelstudio import LabelStudioClient, LabelStudioError
from evaluation.llm import EndpointConfig, EndpointConfigError, LLMClient, probe_endpoint
from hvae_site import outbound
from hvae_site.outbound import OutboundPolicy, OutboundRefused


class CountingServer:
    """A loopback HTTP server that counts connections and every Authorization header it is sent."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.authorizations: list[str] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            with conn:
                data = conn.recv(65536).decode("latin-1")
                for line in data.split("\r\n"):
                    if line.lower().startswith("authorization:"):
                        self.authorizations.append(line.split(":", 1)[1].strip())
                body = b'{"object": "list", "data": [{"id": "m", "object": "model"}]}'
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
                    + f"Content-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def counting_server() -> Iterator[CountingServer]:
    server = CountingServer()
    yield server
    server.close()


@pytest.fixture
def nothing_allowed(settings: Any) -> None:
    settings.HVAE_OUTBOUND_ALLOWED_HOSTS = []


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- API-key variables --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "allowed"),
    [
        ("OPENAI_API_KEY", True),
        ("HVAE_LLM_KEY_VLLM", True),
        ("HVAE_LLM_KEY_", False),
        ("DJANGO_SECRET_KEY", False),
        ("LABEL_STUDIO_WEBHOOK_SECRET", False),
        ("LABEL_STUDIO_API_KEY", False),
        ("DATABASE_URL", False),
        ("CELERY_BROKER_URL", False),
        ("CACHE_URL", False),
        ("HVAE_PUBLIC_URL", False),
        ("PATH", False),
        ("openai_api_key", False),
        ("OPENAI_API_KEY\x00", False),
    ],
)
def test_only_key_variables_may_be_named(name: str, allowed: bool) -> None:
    assert outbound.key_env_allowed(name, ["OPENAI_API_KEY", "HVAE_LLM_KEY_*"]) is allowed


def test_the_services_own_secrets_are_refused_even_when_listed() -> None:
    listed = ["DJANGO_SECRET_KEY", "LABEL_STUDIO_*", "DATABASE_URL", "CELERY_BROKER_URL", "CACHE_URL", "*"]
    for name in ("DJANGO_SECRET_KEY", "LABEL_STUDIO_WEBHOOK_SECRET", "DATABASE_URL", "CELERY_BROKER_URL"):
        assert not outbound.key_env_allowed(name, listed)
    assert outbound.key_env_allowed("MY_PROVIDER_KEY", listed)


def test_a_refused_and_an_unset_variable_read_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DJANGO_SECRET_KEY", "the-signing-key")
    monkeypatch.delenv("HVAE_LLM_KEY_UNSET", raising=False)
    messages = set()
    for name in ("DJANGO_SECRET_KEY", "HVAE_LLM_KEY_UNSET", "NO_SUCH_VARIABLE"):
        with pytest.raises(EndpointConfigError) as error:
            EndpointConfig(base_url="http://127.0.0.1:9/v1", api_key_env=name).api_key()
        messages.add(str(error.value))
    assert messages == {"api_key_env: not an allowed key variable, or not set"}


# --- The pure destination check --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.215.14", True),
        ("2606:4700::1111", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),  # noqa: S104 (an address to refuse, not one to bind)
        ("224.0.0.1", False),
        ("239.1.1.1", False),
        ("255.255.255.255", False),
        ("::1", False),
        ("::", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("ff02::1", False),
        ("::ffff:127.0.0.1", False),
        ("2002:7f00:1::1", False),
    ],
)
def test_only_public_unicast_addresses_are_allowed_by_default(address: str, public: bool) -> None:
    assert outbound.address_is_public(ipaddress.ip_address(address)) is public
    assert OutboundPolicy().address_allowed(ipaddress.ip_address(address)) is public


def test_listed_names_addresses_and_networks_are_allowed() -> None:
    rules = OutboundPolicy.from_entries(["llm.internal", "10.0.0.0/8", "::1", " "])
    assert rules.check_resolved("LLM.internal.", ["192.168.5.5"]) == ["192.168.5.5"]
    assert rules.check_resolved("vllm", ["10.9.8.7"]) == ["10.9.8.7"]
    assert rules.check_resolved("v6", ["::1"]) == ["::1"]
    with pytest.raises(OutboundRefused):
        rules.check_resolved("other", ["192.168.5.5"])


def test_a_name_with_any_refused_address_is_refused() -> None:
    with pytest.raises(OutboundRefused):
        OutboundPolicy().check_resolved("mixed.test", ["93.184.215.14", "127.0.0.1"])
    with pytest.raises(OutboundRefused):
        OutboundPolicy().check_resolved("nothing.test", [])


def test_the_services_own_address_is_refused() -> None:
    own = ipaddress.ip_address("93.184.215.14")
    with pytest.raises(OutboundRefused):
        OutboundPolicy(own_addresses=frozenset({own})).check_resolved("me.test", [str(own)])


@pytest.mark.parametrize(
    "url",
    [
        "ftp://llm.test/v1",
        "file:///etc/passwd",
        "gopher://x",
        "http:///v1",
        "http://[::1/v1",
        "http://h:0/v1",
        "v1",
    ],
)
def test_only_http_urls_with_a_host(url: str) -> None:
    with pytest.raises(OutboundRefused):
        outbound.check_url(url)


# --- At connection time ---------------------------------------------------------------------------------------


def test_a_refused_destination_is_never_contacted(
    counting_server: CountingServer, nothing_allowed: None
) -> None:
    for url in (counting_server.url, f"http://localhost:{counting_server.port}/v1"):
        with pytest.raises(EndpointConfigError) as error:
            probe_endpoint(EndpointConfig(base_url=url), timeout=2.0)
        assert str(error.value) == f"the endpoint {url} is {outbound.UNREACHABLE}"
    assert counting_server.connections == 0


def test_a_refused_destination_and_an_unreachable_one_read_the_same(
    counting_server: CountingServer, settings: Any
) -> None:
    settings.HVAE_OUTBOUND_ALLOWED_HOSTS = ["127.0.0.2"]
    refused = EndpointConfig(base_url="http://10.255.255.1:80/v1")
    unreachable = EndpointConfig(base_url=f"http://127.0.0.2:{closed_port()}/v1")
    messages = []
    for config in (refused, unreachable):
        with pytest.raises(EndpointConfigError) as error:
            probe_endpoint(config, timeout=2.0)
        messages.append(str(error.value).replace(config.base_url, "URL"))
    assert messages[0] == messages[1] == f"the endpoint URL is {outbound.UNREACHABLE}"


def test_chat_calls_to_a_refused_destination_make_no_connection(
    counting_server: CountingServer, nothing_allowed: None
) -> None:
    async def go() -> Any:
        client = LLMClient(
            EndpointConfig(base_url=counting_server.url, max_attempts=2, backoff_base_seconds=0.01)
        )
        try:
            return await client.chat([{"role": "user", "content": "hi"}], model="m")
        finally:
            await client.close()

    result = asyncio.run(go())
    assert not result.ok
    assert counting_server.connections == 0


def test_an_allowed_destination_is_reached(counting_server: CountingServer) -> None:
    assert probe_endpoint(EndpointConfig(base_url=counting_server.url), timeout=5.0) == ["m"]
    assert counting_server.connections == 1


def test_the_connection_goes_to_the_address_that_was_checked(
    counting_server: CountingServer, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DNS rebinding: a name that resolves to a public address when checked and to loopback afterwards. The
    transport resolves once, checks, and connects to that very address, never resolving the name again."""
    settings.HVAE_OUTBOUND_ALLOWED_HOSTS = []
    answers = iter(["93.184.215.14", "127.0.0.1", "127.0.0.1"])
    real = socket.getaddrinfo

    def rebinding(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "rebind.test":
            address = next(answers)
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    connected: list[str] = []
    real_create = socket.create_connection

    def record(address: Any, *args: Any, **kwargs: Any) -> Any:
        connected.append(address[0])
        raise OSError("test network: not connecting")

    monkeypatch.setattr(socket, "create_connection", record)
    with pytest.raises(EndpointConfigError):
        probe_endpoint(EndpointConfig(base_url=f"http://rebind.test:{counting_server.port}/v1"), timeout=2.0)
    monkeypatch.setattr(socket, "create_connection", real_create)
    assert connected
    assert set(connected) == {"93.184.215.14"}
    assert counting_server.connections == 0


def test_an_async_name_resolving_to_loopback_is_refused(
    counting_server: CountingServer, nothing_allowed: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def loopback(host: str, port: Any, **kwargs: Any) -> Any:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

    monkeypatch.setattr(anyio, "getaddrinfo", loopback)

    async def go() -> Any:
        url = f"http://public-looking.test:{counting_server.port}/v1"
        client = LLMClient(EndpointConfig(base_url=url, max_attempts=1))
        try:
            return await client.chat([{"role": "user", "content": "hi"}], model="m")
        finally:
            await client.close()

    result = asyncio.run(go())
    assert not result.ok
    assert counting_server.connections == 0


def test_label_studio_is_refused_unless_allowed(
    counting_server: CountingServer, nothing_allowed: None, settings: Any
) -> None:
    with LabelStudioClient(f"http://127.0.0.1:{counting_server.port}", "key", timeout=2) as ls:
        assert ls.health() is False
        with pytest.raises(LabelStudioError, match="not reachable"):
            ls.ensure_project(title="t", label_config="<View/>", external_key="k")
    assert counting_server.connections == 0
    settings.HVAE_OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1"]
    with LabelStudioClient(f"http://127.0.0.1:{counting_server.port}", "key", timeout=2) as ls:
        ls.health()
    assert counting_server.connections == 1


def test_a_redirect_to_a_refused_destination_is_not_followed(
    counting_server: CountingServer, settings: Any
) -> None:
    """The check runs for every connection, so a public endpoint redirecting inward gains nothing."""
    settings.HVAE_OUTBOUND_ALLOWED_HOSTS = ["127.0.0.2"]
    redirect = socket.create_server(("127.0.0.2", 0))
    port = redirect.getsockname()[1]

    def serve() -> None:
        conn, _ = redirect.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(
                f"HTTP/1.1 307 Temporary Redirect\r\nLocation: {counting_server.url}/models\r\n"
                "Content-Length: 0\r\nConnection: close\r\n\r\n".encode()
            )

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        with pytest.raises(EndpointConfigError, match="not reachable"):
            probe_endpoint(EndpointConfig(base_url=f"http://127.0.0.2:{port}/v1"), timeout=2.0)
    finally:
        redirect.close()
    assert counting_server.connections == 0


def test_label_studio_refused_and_unreachable_read_the_same(settings: Any) -> None:
    settings.HVAE_OUTBOUND_ALLOWED_HOSTS = ["127.0.0.2"]
    messages = []
    for url in ("http://10.255.255.1:8080", f"http://127.0.0.2:{closed_port()}"):
        with LabelStudioClient(url, "key", timeout=2) as ls, pytest.raises(LabelStudioError) as error:
            ls.ensure_project(title="t", label_config="<View/>", external_key="k")
        messages.append(str(error.value).replace(url, "URL"))
    assert messages[0] == messages[1]
    assert outbound.UNREACHABLE in messages[0]
