"""The OpenAI-compatible client: retries, Retry-After, bounds, keys, every attempt recorded."""

from __future__ import annotations

import asyncio
import time

import pytest

from evaluation.llm import EndpointConfig, EndpointConfigError, LLMClient, _pool_sizes, probe_endpoint
from evaluation.reference_llm.server import ServerConfig, start_in_thread

HELLO = [{"role": "user", "content": "Describe a prosocial person."}]


def chat(config: EndpointConfig, **params):
    async def go():
        client = LLMClient(config)
        try:
            return await client.chat(HELLO, model="ref-faithful", **params)
        finally:
            await client.close()

    return asyncio.run(go())


def test_success_is_one_recorded_attempt(reference_server: str) -> None:
    result = chat(EndpointConfig(base_url=reference_server), temperature=0.0, seed=4)
    assert result.ok
    [record] = result.records
    assert record.http_status == 200
    assert record.returned_model == "ref-faithful"
    assert record.system_fingerprint
    assert record.prompt_tokens
    assert record.completion_tokens
    assert record.params == {"model": "ref-faithful", "temperature": 0.0, "seed": 4}
    assert record.not_sent == ()
    assert record.response_text == result.text


def test_a_temperature_left_to_the_provider_is_not_sent_and_is_recorded_so(reference_server: str) -> None:
    result = chat(EndpointConfig(base_url=reference_server), temperature=None, top_p=None, seed=4)
    [record] = result.records
    assert record.params == {"model": "ref-faithful", "seed": 4}
    assert record.not_sent == ("temperature", "top_p")


def test_rate_limits_are_retried_after_the_servers_delay_then_given_up() -> None:
    with start_in_thread(ServerConfig(port=0, rate_429=1.0, retry_after=0.3)) as server:
        started = time.monotonic()
        result = chat(EndpointConfig(base_url=server.base_url, max_attempts=3))
        elapsed = time.monotonic() - started
    assert not result.ok
    assert [r.http_status for r in result.records] == [429, 429, 429]
    assert "gave up after 3 attempts" in result.error
    assert elapsed >= 0.6  # two waits of the server's Retry-After


def test_server_errors_are_retried_until_one_succeeds() -> None:
    with start_in_thread(ServerConfig(port=0, rate_500=0.5, fault_seed=1)) as server:
        results = [
            chat(EndpointConfig(base_url=server.base_url, max_attempts=8, backoff_base_seconds=0.01))
            for _ in range(6)
        ]
    assert all(r.ok for r in results)
    statuses = [record.http_status for r in results for record in r.records]
    assert 500 in statuses
    assert all(r.records[-1].http_status == 200 for r in results)
    assert all(record.error for r in results for record in r.records[:-1])


def test_timeouts_and_malformed_bodies_are_recorded_errors() -> None:
    with start_in_thread(ServerConfig(port=0, rate_timeout=1.0, hang_seconds=2.0)) as server:
        result = chat(EndpointConfig(base_url=server.base_url, timeout_seconds=0.3, max_attempts=2))
    assert not result.ok
    assert all(r.error.startswith("timeout") for r in result.records)
    with start_in_thread(ServerConfig(port=0, rate_malformed=1.0)) as server:
        result = chat(EndpointConfig(base_url=server.base_url, max_attempts=2, backoff_base_seconds=0.01))
    assert not result.ok
    assert all(r.error.startswith("malformed response body") for r in result.records)


def test_total_retry_time_is_bounded() -> None:
    with start_in_thread(ServerConfig(port=0, rate_429=1.0, retry_after=30)) as server:
        started = time.monotonic()
        result = chat(EndpointConfig(base_url=server.base_url, max_attempts=5, max_retry_seconds=1.0))
    assert time.monotonic() - started < 10
    assert len(result.records) == 1
    assert not result.ok


def test_unknown_model_is_not_retried(reference_server: str) -> None:
    async def go():
        client = LLMClient(EndpointConfig(base_url=reference_server))
        try:
            return await client.chat(HELLO, model="gpt-unknown")
        finally:
            await client.close()

    result = asyncio.run(go())
    assert not result.ok
    assert len(result.records) == 1
    assert result.error.startswith("HTTP 404")


def test_missing_key_variable_fails_before_any_call(monkeypatch) -> None:
    monkeypatch.delenv("HVAE_LLM_KEY_TEST", raising=False)
    with pytest.raises(EndpointConfigError, match="not an allowed key variable, or not set"):
        probe_endpoint(EndpointConfig(base_url="http://127.0.0.1:9/v1", api_key_env="HVAE_LLM_KEY_TEST"))


def test_the_key_is_read_from_its_variable_and_never_recorded(reference_server: str, monkeypatch) -> None:
    monkeypatch.setenv("HVAE_LLM_KEY_TEST", "sk-test-secret-value")
    result = chat(EndpointConfig(base_url=reference_server, api_key_env="HVAE_LLM_KEY_TEST"))
    assert result.ok
    assert "sk-test-secret-value" not in repr(result.records)


def test_unreachable_endpoint_is_a_clear_error() -> None:
    with pytest.raises(EndpointConfigError, match="not reachable"):
        probe_endpoint(EndpointConfig(base_url="http://127.0.0.1:9/v1"), timeout=2.0)


def test_requests_per_minute_spaces_request_starts(reference_server: str) -> None:
    config = EndpointConfig(base_url=reference_server, requests_per_minute=600)  # one every 0.1 s

    async def go():
        client = LLMClient(config)
        try:
            started = time.monotonic()
            await asyncio.gather(*(client.chat(HELLO, model="ref-faithful") for _ in range(6)))
            return time.monotonic() - started
        finally:
            await client.close()

    assert asyncio.run(go()) >= 0.5


class _FixedReply:
    """An endpoint that always sends the same JSON body: for the client's reading of odd replies."""

    def __init__(self, body: object) -> None:
        from aiohttp import web

        async def chat(request: web.Request) -> web.Response:
            return web.json_response(body)

        self.app = web.Application()
        self.app.router.add_post("/v1/chat/completions", chat)

    async def __aenter__(self) -> str:
        from aiohttp import web

        self.runner = web.AppRunner(self.app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        return f"http://127.0.0.1:{self.runner.addresses[0][1]}/v1"

    async def __aexit__(self, *exc: object) -> None:
        await self.runner.cleanup()


def reply_to(body: object):
    async def go():
        async with _FixedReply(body) as url:
            client = LLMClient(EndpointConfig(base_url=url, max_attempts=2, backoff_base_seconds=0.01))
            try:
                return await client.chat(HELLO, model="m")
            finally:
                await client.close()

    return asyncio.run(go())


def test_a_refusal_is_kept_as_text_marked_refusal() -> None:
    body = {"model": "m", "choices": [{"message": {"role": "assistant", "content": None, "refusal": "No."}}]}
    result = reply_to(body)
    assert result.text == "[refusal] No."
    assert result.records[0].response_text == "[refusal] No."


@pytest.mark.parametrize("body", [[1, 2], {"choices": []}, {"choices": [{"message": {"content": 5}}]}])
def test_bodies_without_a_message_are_malformed_and_retried(body) -> None:
    result = reply_to(body)
    assert not result.ok
    assert len(result.records) == 2
    assert all(r.error.startswith("malformed response body") for r in result.records)
    assert all(r.response_text for r in result.records)


@pytest.mark.parametrize(
    ("connections", "sizes"),
    [(1, [1]), (8, [8]), (9, [5, 4]), (10, [5, 5]), (64, [8] * 8), (65, [8] * 2 + [7] * 7)],
)
def test_connections_are_split_into_small_even_pools(connections: int, sizes: list[int]) -> None:
    assert _pool_sizes(connections) == sizes
    assert sum(sizes) == connections
