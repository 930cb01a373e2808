"""Asynchronous client for any OpenAI-compatible chat-completions endpoint (OpenAI, vLLM, Ollama, llama.cpp).

Built on the ``openai`` SDK's ``AsyncOpenAI`` with the SDK's own retries switched off: this module retries
itself so that every attempt is returned as a ``CallRecord`` (the service stores each as an LLMCall row).
Chat completions go through the client's documented generic ``post`` (the SDK's transport, authentication,
timeouts and error types) and the reply is read as plain JSON: the typed ``chat.completions.create`` runs a
per-message parameter transform that was the largest CPU cost of a run at high concurrency.
Retries cover 429, 5xx, connection errors, timeouts and malformed bodies, with exponential backoff and full
jitter, honouring ``Retry-After``, bounded both in attempts and in total time. Concurrency is capped per endpoint
and an optional requests-per-minute limit spaces request starts. Keys are read from the environment variable an
endpoint names (only variables allowed by ``HVAE_LLM_KEY_ENVS``) and never appear in a record. Every connection
goes through ``hvae_site.outbound``'s transport, which connects only to allowed addresses.
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx2
import openai

from hvae_site import outbound

logger = logging.getLogger(__name__)

KEPT_HEADER_PREFIXES = ("x-reference-", "openai-", "x-request-id", "retry-after")
SAMPLING_PARAMS = ("temperature", "top_p")
"""Sampling parameters a call may leave to the provider (passed as None): the record names them in
``not_sent``, so a stored call says that no temperature was sent rather than leaving it to be guessed."""
NO_KEY_PLACEHOLDER = "no-key"  # the SDK insists on a key; local servers ignore it


class EndpointConfigError(Exception):
    """The endpoint cannot be used as configured (missing key variable, bad URL)."""


@dataclass(frozen=True)
class EndpointConfig:
    base_url: str
    api_key_env: str = ""
    max_concurrency: int = 8
    requests_per_minute: int | None = None
    timeout_seconds: float = 60.0
    max_attempts: int = 5
    max_retry_seconds: float = 120.0
    backoff_base_seconds: float = 0.5
    backoff_cap_seconds: float = 20.0

    def api_key(self) -> str:
        """The key from the endpoint's variable; a refused name and an unset one give the same error."""
        if not self.api_key_env:
            return NO_KEY_PLACEHOLDER
        try:
            return outbound.key_from_env(self.api_key_env)
        except outbound.KeyEnvRefused as exc:
            raise EndpointConfigError(f"api_key_env: {outbound.KEY_ENV_REFUSED}") from exc

    def checked_base_url(self) -> str:
        try:
            return outbound.check_url(self.base_url)
        except outbound.OutboundRefused as exc:
            raise EndpointConfigError(f"the endpoint {self.base_url} is {outbound.UNREACHABLE}") from exc


@dataclass
class CallRecord:
    """One HTTP attempt, successful or not."""

    attempt: int
    request_messages: list[dict[str, str]]
    params: dict[str, Any]
    not_sent: tuple[str, ...] = ()
    response_text: str = ""
    returned_model: str = ""
    system_fingerprint: str = ""
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_ms: float = 0.0
    http_status: int | None = None
    error: str = ""
    response_headers: dict[str, str] = field(default_factory=dict)


@dataclass
class ChatResult:
    text: str | None
    records: list[CallRecord]
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.text is not None


class _RateLimiter:
    """Spaces request starts at least 60/rpm seconds apart."""

    def __init__(self, requests_per_minute: int | None) -> None:
        self.interval = 60.0 / requests_per_minute if requests_per_minute else 0.0
        self.next_start = 0.0
        self.lock = asyncio.Lock()

    async def wait(self) -> None:
        if not self.interval:
            return
        async with self.lock:
            now = time.monotonic()
            delay = self.next_start - now
            self.next_start = max(now, self.next_start) + self.interval
        if delay > 0:
            await asyncio.sleep(delay)


class _Retryable(Exception):
    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def _retry_after_seconds(headers: httpx2.Headers | None) -> float | None:
    if headers is None:
        return None
    raw = headers.get("retry-after-ms")
    if raw:
        try:
            return float(raw) / 1000.0
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if raw:
        try:
            return max(0.0, float(raw))
        except ValueError:
            return None
    return None


def _kept_headers(headers: httpx2.Headers) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.lower().startswith(KEPT_HEADER_PREFIXES)}


CONNECTIONS_PER_POOL = 8
"""An endpoint's connections are split into pools of at most this many. To place a request, the HTTP client scans
every connection of its pool (polling each idle socket), a cost that grew with an endpoint's concurrency into the
largest CPU cost of a run; small pools keep the scan short."""


def _pool_sizes(connections: int) -> list[int]:
    """``connections`` split as evenly as possible into pools of at most ``CONNECTIONS_PER_POOL``."""
    count = -(-connections // CONNECTIONS_PER_POOL)
    base, extra = divmod(connections, count)
    return [base + 1] * extra + [base] * (count - extra)


@dataclass(frozen=True)
class _Pool:
    client: openai.AsyncOpenAI
    max_connections: int


class LLMClient:
    """One client per endpoint, shared by every trial that calls it (the limits are per endpoint)."""

    def __init__(self, config: EndpointConfig, *, rng: random.Random | None = None) -> None:
        self.config = config
        key = config.api_key()
        base_url = config.checked_base_url()
        tls = httpx2.create_ssl_context(trust_env=False)  # loaded once, shared by the pools
        self._pools = [
            self._pool(config, base_url, key, tls, size) for size in _pool_sizes(config.max_concurrency)
        ]
        self._free = [client.max_connections for client in self._pools]
        self._client = self._pools[0].client
        self._semaphore = asyncio.Semaphore(config.max_concurrency)
        self._limiter = _RateLimiter(config.requests_per_minute)
        self._rng = rng or random.Random()

    @staticmethod
    def _pool(
        config: EndpointConfig, base_url: str, key: str, tls: ssl.SSLContext, connections: int
    ) -> _Pool:
        limits = httpx2.Limits(max_connections=connections, max_keepalive_connections=connections)
        client = openai.AsyncOpenAI(
            base_url=base_url,
            api_key=key,
            max_retries=0,
            timeout=config.timeout_seconds,
            http_client=openai.DefaultAsyncHttpxClient(
                timeout=config.timeout_seconds,
                transport=outbound.GuardedAsyncTransport(limits=limits, ssl_context=tls),
                trust_env=False,
            ),
        )
        return _Pool(client, connections)

    async def close(self) -> None:
        for pool in self._pools:
            await pool.client.close()

    async def list_models(self) -> list[str]:
        page = await self._client.models.list()
        return [model.id for model in page.data]

    async def chat(self, messages: Sequence[dict[str, str]], *, model: str, **params: Any) -> ChatResult:
        """Send one chat completion, retrying transient failures; every attempt is in ``records``."""
        request_messages = [dict(m) for m in messages]
        sent_params = {"model": model, **{k: v for k, v in params.items() if v is not None}}
        not_sent = tuple(k for k in SAMPLING_PARAMS if k in params and params[k] is None)
        records: list[CallRecord] = []
        deadline = time.monotonic() + self.config.max_retry_seconds
        for attempt in range(1, self.config.max_attempts + 1):
            record = CallRecord(
                attempt=attempt, request_messages=request_messages, params=sent_params, not_sent=not_sent
            )
            records.append(record)
            try:
                return ChatResult(text=await self._attempt(record), records=records)
            except _Retryable as exc:
                record.error = str(exc)
                delay = self._backoff(attempt, exc.retry_after)
                if attempt == self.config.max_attempts or time.monotonic() + delay > deadline:
                    break
                logger.info("llm retry model=%s attempt=%d delay=%.2fs error=%s", model, attempt, delay, exc)
                await asyncio.sleep(delay)
            except openai.APIStatusError as exc:
                record.error = f"HTTP {exc.status_code}: {exc.message}"
                return ChatResult(text=None, records=records, error=record.error)
        return ChatResult(
            text=None,
            records=records,
            error=f"gave up after {len(records)} attempts: {records[-1].error}",
        )

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return retry_after
        ceiling = min(self.config.backoff_cap_seconds, self.config.backoff_base_seconds * 2 ** (attempt - 1))
        return self._rng.uniform(0, ceiling)

    async def _attempt(self, record: CallRecord) -> str:
        async with self._semaphore:
            await self._limiter.wait()
            # The pool with the most free connections: the semaphore keeps one free somewhere.
            pool = max(range(len(self._pools)), key=self._free.__getitem__)
            self._free[pool] -= 1
            started = time.perf_counter()
            try:
                raw = await self._pools[pool].client.post(
                    "/chat/completions",
                    cast_to=httpx2.Response,
                    body={"messages": record.request_messages, **record.params},
                )
            except openai.APITimeoutError as exc:
                raise _Retryable(f"timeout: {exc}") from exc
            except openai.APIConnectionError as exc:
                raise _Retryable(f"connection error: {exc}") from exc
            except openai.APIStatusError as exc:
                record.http_status = exc.status_code
                record.response_text = exc.response.text[:2000]
                record.response_headers = _kept_headers(exc.response.headers)
                if exc.status_code == 429 or exc.status_code >= 500:
                    raise _Retryable(
                        f"HTTP {exc.status_code}", retry_after=_retry_after_seconds(exc.response.headers)
                    ) from exc
                raise
            finally:
                self._free[pool] += 1
                record.latency_ms = (time.perf_counter() - started) * 1000.0
        record.http_status = raw.status_code
        record.response_headers = _kept_headers(raw.headers)
        try:
            completion = raw.json()
            message = completion["choices"][0]["message"]
            text = message.get("content") or ""
            if not isinstance(text, str):
                raise TypeError(f"message content is {type(text).__name__}, not text")
        except (ValueError, KeyError, IndexError, AttributeError, TypeError) as exc:
            record.response_text = raw.text[:2000]
            raise _Retryable(f"malformed response body: {exc!r}") from exc
        record.response_text = text
        record.returned_model = str(completion.get("model") or "")
        record.system_fingerprint = str(completion.get("system_fingerprint") or "")
        usage = completion.get("usage") or {}
        record.prompt_tokens = usage.get("prompt_tokens")
        record.completion_tokens = usage.get("completion_tokens")
        if not text.strip() and message.get("refusal"):
            record.response_text = f"[refusal] {message['refusal']}"
            return record.response_text
        return text


def probe_endpoint(config: EndpointConfig, *, timeout: float = 10.0) -> list[str]:
    """Check the endpoint answers and return the model ids it lists, before a run makes any chat call.

    Raises EndpointConfigError with a readable message when the key variable is missing or the endpoint is
    unreachable or refuses the key. An endpoint without a model list (404) gives an empty list.
    """
    client = openai.OpenAI(
        base_url=config.checked_base_url(),
        api_key=config.api_key(),
        max_retries=1,
        timeout=timeout,
        http_client=openai.DefaultHttpxClient(
            timeout=timeout, transport=outbound.GuardedSync2Transport(), trust_env=False
        ),
    )
    try:
        return [model.id for model in client.models.list().data]
    except openai.NotFoundError:
        return []
    except openai.AuthenticationError as exc:
        raise EndpointConfigError(
            f"the endpoint {config.base_url} refused the API key: {exc.message}"
        ) from exc
    except openai.APIConnectionError as exc:
        # One message for a refused destination and an unreachable one: refusals must not map the network.
        raise EndpointConfigError(f"the endpoint {config.base_url} is {outbound.UNREACHABLE}") from exc
    except openai.APIStatusError as exc:
        raise EndpointConfigError(f"the endpoint {config.base_url} answered HTTP {exc.status_code}") from exc
    finally:
        client.close()
