"""Decisions per second through the full evaluation pipeline against the reference agents.

    .venv/bin/python benchmarks/throughput.py [--trials 256] [--concurrency 64] [--latency-ms 200]

The reference server runs in its own process with an injected latency per response. The pipeline (claiming,
HTTP client, conversation, extraction, scoring, database writes) runs ``trials`` plain-strategy trials of
``ref-faithful`` at the given concurrency. Printed: decisions/s, the ideal bound (concurrency / latency requests
per second, times the share of requests that are decisions), and the same requests (every message and parameter
the pipeline sent) replayed by a bare AsyncOpenAI loop at the same concurrency. The database is ``DATABASE_URL``
when set, else a fresh SQLite file.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(url: str, timeout: float = 30.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/models", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"the reference server at {url} did not start")


async def bare_loop(
    base_url: str, requests: list[tuple[list[dict[str, str]], dict[str, Any]]], concurrency: int
) -> float:
    """The pipeline's own requests replayed with nothing around them: the client-side ceiling (calls/s)."""
    import openai

    client = openai.AsyncOpenAI(base_url=base_url, api_key="x", max_retries=0)
    gate = asyncio.Semaphore(concurrency)

    async def one(messages: list[dict[str, str]], params: dict[str, Any]) -> None:
        sent = {k: v for k, v in params.items() if k != "not_sent"}  # recorded, never sent
        async with gate:
            await client.chat.completions.create(messages=messages, **sent)  # type: ignore[arg-type]

    started = time.perf_counter()
    await asyncio.gather(*(one(messages, params) for messages, params in requests))
    elapsed = time.perf_counter() - started
    await client.close()
    return len(requests) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--trials", type=int, default=256)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency-ms", type=float, default=200.0)
    args = parser.parse_args()

    scratch = tempfile.mkdtemp(prefix="hvae-bench-")
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{scratch}/bench.sqlite3")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hvae_site.settings")
    os.environ.setdefault("DJANGO_SECRET_KEY", "benchmark-only")
    os.environ["LOG_LEVEL"] = "WARNING"
    # The reference server listens on loopback, which outbound requests may reach only when listed.
    os.environ.setdefault("HVAE_OUTBOUND_ALLOWED_HOSTS", "127.0.0.1,::1,localhost")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from evaluation import runner, services
    from evaluation.models import ItemResponse, LLMCall, Trial

    call_command("migrate", verbosity=0)
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "manage.py"),
            "serve_reference_llm",
            "--port",
            str(port),
            "--latency-ms",
            str(args.latency_ms),
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        wait_for(base_url)
        study = services.study_get_or_create(name=f"benchmark {time.time():.0f}")
        endpoint = services.endpoint_get_or_create(base_url=base_url, max_concurrency=args.concurrency)
        per_value = max(1, args.trials // 4)
        run_ids = []
        for value in ("altruistic", "prosocial", "individualistic", "competitive"):
            run, _ = services.evaluation_run_create(
                study=study,
                endpoint=endpoint,
                design=services.RunDesign(model="ref-faithful", value=value, n_trials=per_value),
                reuse_existing=False,
            )
            run_ids.append(run.pk)
        started = time.perf_counter()
        runner.execute_runs(run_ids)
        elapsed = time.perf_counter() - started
        decisions = ItemResponse.objects.filter(trial__run_id__in=run_ids).count()
        calls = LLMCall.objects.filter(run_id__in=run_ids).count()
        requests = list(
            LLMCall.objects.filter(run_id__in=run_ids)
            .order_by("id")
            .values_list("request_messages", "params")
        )
        bare_calls_per_s = asyncio.run(bare_loop(base_url, requests, args.concurrency))
    finally:
        server.terminate()
        server.wait(timeout=10)

    if not decisions:
        failed = Trial.objects.filter(run_id__in=run_ids, status=Trial.Status.FAILED).first()
        reason = failed.failure_reason if failed else "no trial was scored"
        raise SystemExit(f"error: the pipeline made no decision ({reason})")
    decision_share = decisions / calls
    bound_calls = args.concurrency / (args.latency_ms / 1000.0)
    bound_decisions = bound_calls * decision_share
    pipeline_decisions = decisions / elapsed
    bare_decisions = bare_calls_per_s * decision_share
    print(f"database: {connection.vendor}; {4 * per_value} trials, {decisions} decisions, {calls} calls")
    print(f"concurrency {args.concurrency}, injected latency {args.latency_ms:.0f} ms, wall {elapsed:.2f} s")
    print(f"pipeline:        {pipeline_decisions:8.1f} decisions/s ({calls / elapsed:.1f} calls/s)")
    print(
        f"ideal bound:     {bound_decisions:8.1f} decisions/s ({bound_calls:.1f} calls/s = concurrency / latency)"
    )
    print(f"bare AsyncOpenAI:{bare_decisions:8.1f} decisions/s ({bare_calls_per_s:.1f} calls/s)")
    print(f"ratio to ideal bound: {pipeline_decisions / bound_decisions:.3f} (target >= 0.9)")
    print(f"ratio to bare loop:   {pipeline_decisions / bare_decisions:.3f}")


if __name__ == "__main__":
    main()
