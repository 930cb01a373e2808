"""The reference agents over HTTP: an asyncio server speaking the OpenAI chat-completions protocol.

Endpoints: ``GET /v1/models`` and ``POST /v1/chat/completions`` (no streaming, one choice). Decision replies
carry the agent's true choice in ``x-reference-option`` (canonical option) and ``x-reference-label``, so
tests and benchmarks can measure extraction exactly.

For reliability tests and benchmarks the server can add latency to every reply and inject faults at given
rates, drawn from a generator seeded with ``fault_seed``: HTTP 500, HTTP 429 with ``Retry-After``, a hang of
``hang_seconds`` (a client timeout), and a malformed (truncated) JSON body. ``unreadable_rate`` words that share
of decisions so that only an extractor can read them (payoffs in words), to exercise recovery of unreadable
answers (asking again, the extractor).

A request without ``temperature`` is answered at 1.0, the OpenAI API's default, as a real provider would.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from aiohttp import web

from evaluation.reference_llm import agents

logger = logging.getLogger(__name__)

DEFAULT_TEMPERATURE = 1.0
"""The temperature of a request that sends none: the OpenAI API's default."""


@dataclass(frozen=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8765
    latency_ms: float = 0.0
    rate_500: float = 0.0
    rate_429: float = 0.0
    retry_after: float = 1.0
    rate_timeout: float = 0.0
    hang_seconds: float = 30.0
    rate_malformed: float = 0.0
    fault_seed: int = 0
    unreadable_rate: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.unreadable_rate <= 1.0:
            raise ValueError("the unreadable rate must be in [0, 1]")
        rates = (self.rate_500, self.rate_429, self.rate_timeout, self.rate_malformed)
        if any(not 0.0 <= r <= 1.0 for r in rates) or sum(rates) > 1.0:
            raise ValueError("fault rates must each be in [0, 1] and sum to at most 1")
        if self.latency_ms < 0 or self.retry_after < 0 or self.hang_seconds < 0:
            raise ValueError("latency, retry-after and hang times must not be negative")


def _error(status: int, message: str, kind: str, **headers: str) -> web.Response:
    body = {"error": {"message": message, "type": kind, "code": None}}
    return web.json_response(body, status=status, headers=headers)


def _tokens(text: str) -> int:
    return max(1, round(len(text.split()) * 1.3))


class ReferenceApp:
    """Request handling; faults are drawn in arrival order from one seeded generator."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.faults = random.Random(config.fault_seed)
        self.created = int(time.time())

    def app(self) -> web.Application:
        app = web.Application(client_max_size=8 * 1024 * 1024)
        app.router.add_get("/v1/models", self.models)
        app.router.add_post("/v1/chat/completions", self.chat)
        app.router.add_get("/health", self.health)
        return app

    async def health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def models(self, request: web.Request) -> web.Response:
        data = [
            {"id": name, "object": "model", "created": self.created, "owned_by": "reference-agents"}
            for name in agents.PROFILES
        ]
        return web.json_response({"object": "list", "data": data})

    def _fault(self) -> str | None:
        draw = self.faults.random()
        c = self.config
        for name, rate in (
            ("500", c.rate_500),
            ("429", c.rate_429),
            ("timeout", c.rate_timeout),
            ("malformed", c.rate_malformed),
        ):
            if draw < rate:
                return name
            draw -= rate
        return None

    async def chat(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return _error(400, "the request body is not JSON", "invalid_request_error")
        problem = _invalid_request(body)
        if problem:
            return _error(400, problem, "invalid_request_error")
        model, messages = body["model"], body["messages"]
        if model not in agents.PROFILES:
            return _error(404, f"The model `{model}` does not exist.", "invalid_request_error")
        fault = self._fault()
        if self.config.latency_ms:
            await asyncio.sleep(self.config.latency_ms / 1000.0)
        if fault == "500":
            return _error(500, "injected server error", "server_error")
        if fault == "429":
            return _error(
                429,
                "injected rate limit",
                "rate_limit_error",
                **{"Retry-After": f"{self.config.retry_after:g}"},
            )
        if fault == "timeout":
            await asyncio.sleep(self.config.hang_seconds)
        temperature = body.get("temperature")
        reply = agents.respond(
            model,
            messages,
            seed=body.get("seed"),
            temperature=DEFAULT_TEMPERATURE if temperature is None else float(temperature),
            unreadable_rate=self.config.unreadable_rate,
        )
        headers: dict[str, str] = {"x-reference-kind": reply.kind}
        if reply.value:
            headers["x-reference-value"] = reply.value
        if reply.option is not None:
            headers["x-reference-option"] = str(reply.option)
        if reply.allocation is not None:
            headers["x-reference-allocation"] = "{},{}".format(*reply.allocation)
        if reply.label is not None:
            headers["x-reference-label"] = reply.label
        completion = _completion(model, messages, reply.text)
        if fault == "malformed":
            return web.Response(
                text=json.dumps(completion)[:40], content_type="application/json", headers=headers
            )
        return web.json_response(completion, headers=headers)


def _invalid_request(body: Any) -> str:
    if not isinstance(body, dict):
        return "the request body must be a JSON object"
    if not isinstance(body.get("model"), str):
        return "'model' is required"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "'messages' must be a non-empty list"
    for message in messages:
        if not (isinstance(message, dict) and isinstance(message.get("content"), str)):
            return "every message needs a string 'content'"
    temperature = body.get("temperature")
    if temperature is not None and (
        isinstance(temperature, bool) or not isinstance(temperature, int | float)
    ):
        return "'temperature' must be a number"
    if body.get("stream"):
        return "streaming is not supported by the reference agents"
    if body.get("n", 1) != 1:
        return "only n=1 is supported"
    return ""


def _completion(model: str, messages: Sequence[dict[str, str]], text: str) -> dict[str, Any]:
    prompt_tokens = sum(_tokens(m["content"]) for m in messages)
    completion_tokens = _tokens(text)
    return {
        "id": f"chatcmpl-ref-{uuid.uuid4().hex[:16]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": agents.FINGERPRINT,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


class RunningServer:
    """A server running on its own event loop in a background thread. Use as a context manager or stop()."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._started = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._serve, name="reference-agents", daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://{self.config.host}:{self.port}/v1"

    def start(self) -> RunningServer:
        self._thread.start()
        self._started.wait(timeout=30)
        if self._error is not None:
            raise self._error
        if not self._started.is_set():
            raise RuntimeError("the reference agents' server did not start within 30 s")
        return self

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._runner = web.AppRunner(
                ReferenceApp(self.config).app(), access_log=None, shutdown_timeout=1.0
            )
            self._loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, self.config.host, self.config.port, backlog=1024)
            self._loop.run_until_complete(site.start())
            self.port = int(self._runner.addresses[0][1])
        except OSError as exc:
            self._error = OSError(
                f"the reference agents cannot listen on {self.config.host}:{self.config.port}: {exc.strerror}"
            )
            self._started.set()
            return
        logger.info("reference agents serving url=%s", self.base_url)
        self._started.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self._runner.cleanup())
        pending = asyncio.all_tasks(self._loop)  # replies still sleeping (latency, injected hangs)
        for task in pending:
            task.cancel()
        self._loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self._loop.close()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def start_in_thread(config: ServerConfig) -> RunningServer:
    """Start the reference agents on ``config.host:config.port`` (0: any free port) in a background thread."""
    return RunningServer(config).start()


def serve_forever(config: ServerConfig) -> None:
    """Serve in the foreground until interrupted (the management command)."""
    web.run_app(
        ReferenceApp(config).app(),
        host=config.host,
        port=config.port,
        access_log=None,
        print=None,
        backlog=1024,
        shutdown_timeout=1.0,
    )
