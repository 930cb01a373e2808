"""python manage.py serve_reference_llm: the reference agents on an OpenAI-compatible HTTP endpoint."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from evaluation.reference_llm.agents import PROFILES
from evaluation.reference_llm.server import ServerConfig, serve_forever


class Command(BaseCommand):
    help = "Serve the reference agents (calibration agents with known dispositions) over the OpenAI protocol."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8765)
        parser.add_argument("--latency-ms", type=float, default=0.0, help="Added to every reply.")
        parser.add_argument("--rate-500", type=float, default=0.0, help="Share of replies that are HTTP 500.")
        parser.add_argument("--rate-429", type=float, default=0.0, help="Share that are HTTP 429.")
        parser.add_argument("--retry-after", type=float, default=1.0, help="Retry-After of a 429, seconds.")
        parser.add_argument("--rate-timeout", type=float, default=0.0, help="Share that hang.")
        parser.add_argument("--hang-seconds", type=float, default=30.0, help="How long a hang lasts.")
        parser.add_argument("--rate-malformed", type=float, default=0.0, help="Share with a broken body.")
        parser.add_argument("--fault-seed", type=int, default=0)
        parser.add_argument(
            "--unreadable-rate",
            type=float,
            default=0.0,
            help="Share of decisions worded so that only an extractor reads them (payoffs in words).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            config = ServerConfig(
                host=options["host"],
                port=options["port"],
                latency_ms=options["latency_ms"],
                rate_500=options["rate_500"],
                rate_429=options["rate_429"],
                retry_after=options["retry_after"],
                rate_timeout=options["rate_timeout"],
                hang_seconds=options["hang_seconds"],
                rate_malformed=options["rate_malformed"],
                fault_seed=options["fault_seed"],
                unreadable_rate=options["unreadable_rate"],
            )
        except ValueError as exc:
            raise CommandError(str(exc), returncode=2) from exc
        self.stderr.write(
            f"Reference agents at http://{config.host}:{config.port}/v1 — models: {', '.join(PROFILES)}"
        )
        try:
            serve_forever(config)
        except OSError as exc:
            raise CommandError(
                f"cannot listen on {config.host}:{config.port}: {exc.strerror}", returncode=2
            ) from exc
