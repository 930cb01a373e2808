"""python manage.py run_evaluation: evaluate models × values × strategies and print a summary table."""

from __future__ import annotations

import json
import math
import time
from io import StringIO
from typing import Any

from django.contrib.auth.models import User
from django.core.management.base import CommandError, CommandParser
from django.db import transaction
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from evaluation import access, jobs, launch, prompts, runner, selectors, services, svo
from evaluation.models import EvaluationRun, ModelEndpoint, Trial
from evaluation.summary import CellSummary, Interval
from hvae_site import validators
from hvae_site.api import DomainError
from hvae_site.commands import DatabaseCommand


def _csv(raw: str) -> list[str]:
    return [part.strip() for part in raw.split(",") if part.strip()]


def fail(message: str) -> CommandError:
    return CommandError(message, returncode=2)


def parse_temperature(raw: str | None) -> services.TemperatureChoice:
    """``--temperature``: absent, the variant's default; 'none', send none; else a number (range checked by the
    service)."""
    if raw is None:
        return services.DEFAULT
    if raw.strip().lower() == "none":
        return None
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not 0.0 <= value <= 2.0:  # also refuses nan and inf
        raise fail(f"--temperature must be a number between 0 and 2 or 'none', got {raw!r}")
    return value


class Command(DatabaseCommand):
    help = "Run SVO evaluations of one or more models for each induced value and prompting strategy."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--study",
            required=True,
            type=validators.arg_text(),
            help="Study name or id; a new name creates the study.",
        )
        parser.add_argument(
            "--owner",
            default="",
            type=validators.arg_text(max_length=150, allow_blank=True),
            help="Username of the researcher who owns a study (and endpoint) this command creates; without it "
            "they have no owner and only superusers see them.",
        )
        where = parser.add_mutually_exclusive_group(required=True)
        where.add_argument(
            "--endpoint-url",
            type=validators.arg_http_url,
            help="Base URL of an OpenAI-compatible API (…/v1).",
        )
        where.add_argument("--endpoint", type=validators.arg_text(), help="Name of a saved endpoint.")
        parser.add_argument(
            "--api-key-env",
            default="",
            type=validators.arg_env_name,
            help="Environment variable holding the API key (OPENAI_API_KEY, HVAE_LLM_KEY_..., see HVAE_LLM_KEY_ENVS).",
        )
        parser.add_argument(
            "--models", required=True, type=validators.arg_names(), help="Comma-separated model names."
        )
        parser.add_argument(
            "--values", default="all", help="'all' or a comma-separated subset of the values."
        )
        parser.add_argument("--strategies", default="plain", help="Comma-separated: plain, goal.")
        parser.add_argument(
            "--trials", type=validators.arg_int(), default=10, help="Trials per (model, value, strategy)."
        )
        parser.add_argument("--items", default="primary", choices=["primary", "all"])
        parser.add_argument("--labels", default="letters", choices=["letters", "numbers"])
        parser.add_argument("--order", default="fixed", choices=["fixed", "reversed", "random"])
        parser.add_argument("--variant", default="dialogue", choices=list(prompts.VARIANTS))
        parser.add_argument(
            "--temperature",
            default=None,
            help="Sampling temperature 0..2, or 'none' to send none (the provider's default). Default: 1.0, "
            "none for --variant paper.",
        )
        parser.add_argument("--top-p", type=validators.arg_float(minimum=0.0, maximum=1.0), default=None)
        parser.add_argument("--max-tokens", type=validators.arg_int(minimum=1, maximum=100_000), default=400)
        parser.add_argument("--seed", type=validators.arg_int(), default=0)
        parser.add_argument(
            "--concurrency",
            type=validators.arg_int(minimum=1, maximum=256),
            default=None,
            help="Concurrent requests to the endpoint.",
        )
        parser.add_argument(
            "--extractor-model",
            default="",
            type=validators.arg_text(allow_blank=True),
            help="LLM extractor fallback model (same endpoint by default).",
        )
        parser.add_argument(
            "--extractor-endpoint",
            default="",
            type=validators.arg_text(max_length=validators.URL_LENGTH, allow_blank=True),
            help="Saved endpoint name or base URL serving --extractor-model, if not the evaluated endpoint.",
        )
        parser.add_argument(
            "--on-unreadable",
            default="reask",
            help="When no option can be read from an answer: reask (ask once more, then the extractor), "
            "extract (the extractor only) or fail. Default: reask.",
        )
        parser.add_argument(
            "--fresh", action="store_true", help="Start new runs even if identical ones exist."
        )
        parser.add_argument("--json", action="store_true", help="Print only the summary as JSON on stdout.")

    def handle(self, *args: Any, **options: Any) -> None:
        err = Console(stderr=True)
        # A refused command saves nothing: no endpoint, study or run is left behind by a failed check.
        try:
            with transaction.atomic():
                run_ids = self.prepare_runs(options)
        except DomainError as exc:
            raise fail(f"{exc.field}: {exc.message}" if exc.field else exc.message) from exc
        if jobs.broker_configured():
            err.print(f"Queued Celery batches for {len(run_ids)} runs; waiting for workers.")
            self.wait_with_progress(run_ids, err, poll=True)
        else:
            err.print("No CELERY_BROKER_URL: running in-process.")
            self.wait_with_progress(run_ids, err, poll=False)
        summaries = selectors.cell_summaries(run_ids=run_ids)
        if options["json"]:
            self.stdout.write(json.dumps([json_row(s) for s in summaries], indent=2))
        else:
            rendered = StringIO()
            Console(file=rendered, width=200).print(summary_table(summaries))
            self.stdout.write(rendered.getvalue())

    def prepare_runs(self, options: dict[str, Any]) -> list[int]:
        models = _csv(options["models"])
        if not models:
            raise fail("--models needs at least one model name")
        values = list(svo.VALUES) if options["values"] == "all" else _csv(options["values"])
        unknown = [v for v in values if v not in svo.VALUES]
        if unknown or not values:
            raise fail(
                f"unknown value(s) {', '.join(unknown) or '(none)'}; expected 'all' or {', '.join(svo.VALUES)}"
            )
        strategies = _csv(options["strategies"])
        bad = [s for s in strategies if s not in EvaluationRun.Strategy.values]
        if bad or not strategies:
            raise fail(f"unknown strategy {', '.join(bad) or '(none)'}; expected plain and/or goal")
        if options["trials"] <= 0:
            raise fail("--trials must be at least 1")
        if options["concurrency"] is not None and options["concurrency"] <= 0:
            raise fail("--concurrency must be at least 1")
        options["owner_user"] = self.resolve_owner(options["owner"])
        temperature = parse_temperature(options["temperature"])
        endpoint = self.resolve_endpoint(options)
        extractor_endpoint = self.resolve_extractor_endpoint(options)
        study = (
            services.study_get_or_create(name=options["study"], owner=options["owner_user"])
            if not options["study"].isdigit()
            else None
        )
        study = study or services.study_find(name_or_id=options["study"])
        if study is None:
            raise fail(f"no study with id {options['study']}")
        designs = [
            services.RunDesign(
                model=model,
                value=value,
                strategy=strategy,
                n_trials=options["trials"],
                prompt_variant=options["variant"],
                item_set=options["items"],
                option_labels=options["labels"],
                option_order=options["order"],
                temperature=temperature,
                top_p=options["top_p"],
                max_tokens=options["max_tokens"],
                seed=options["seed"],
                extractor_model=options["extractor_model"],
                on_unreadable=options["on_unreadable"],
            )
            for model in models
            for value in values
            for strategy in strategies
        ]
        try:
            started = launch.evaluation_runs_start(
                study=study,
                endpoint=endpoint,
                designs=designs,
                extractor_endpoint=extractor_endpoint,
                reuse_existing=not options["fresh"],
                start=jobs.broker_configured(),
            )
        except DomainError as exc:
            raise fail(exc.message) from exc
        return [run.pk for run in started.runs]

    def resolve_extractor_endpoint(self, options: dict[str, Any]) -> ModelEndpoint | None:
        """The extractor's own endpoint, if one is named (the run-start service checks it before any call)."""
        where = options["extractor_endpoint"]
        if not where:
            return None
        if not options["extractor_model"]:
            raise fail("--extractor-endpoint needs --extractor-model")
        if where.startswith(("http://", "https://")):
            try:
                where = validators.check_http_url(where)
            except ValueError as exc:
                raise fail(f"--extractor-endpoint {exc}") from exc
            endpoint = services.endpoint_get_or_create(base_url=where)
        else:
            found = ModelEndpoint.objects.filter(name=where).first()
            if found is None:
                raise fail(f"no saved endpoint named {where!r}")
            endpoint = found
        return endpoint

    def resolve_endpoint(self, options: dict[str, Any]) -> ModelEndpoint:
        if options["endpoint"]:
            endpoint = ModelEndpoint.objects.filter(name=options["endpoint"]).first()
            if endpoint is None:
                raise fail(f"no saved endpoint named {options['endpoint']!r}")
            if options["concurrency"]:
                endpoint.max_concurrency = options["concurrency"]
                endpoint.save(update_fields=["max_concurrency"])
            return endpoint
        url = options["endpoint_url"]
        if not url.startswith(("http://", "https://")):
            raise fail(f"--endpoint-url must be an http(s) URL, got {url!r}")
        return services.endpoint_get_or_create(
            base_url=url,
            api_key_env=options["api_key_env"],
            max_concurrency=options["concurrency"],
            owner=options.get("owner_user"),
        )

    def resolve_owner(self, username: str) -> User | None:
        if not username:
            return None
        user = User.objects.filter(username=username).first()
        if user is None or not access.is_researcher(user):
            raise fail(f"--owner {username!r} is not a researcher (see `manage.py create_researcher`)")
        return user

    def wait_with_progress(self, run_ids: list[int], console: Console, *, poll: bool) -> None:
        total = Trial.objects.filter(run_id__in=run_ids).count()
        done = Trial.objects.filter(run_id__in=run_ids, status__in=[Trial.Status.SCORED, Trial.Status.FAILED])
        columns = (
            TextColumn("trials"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=console, transient=False) as bar:
            task = bar.add_task("trials", total=total, completed=done.count(), rate="")
            started, start_count = time.monotonic(), done.count()

            def update(_: Trial | None = None) -> None:
                current = done.count() if poll else bar.tasks[0].completed + 1
                elapsed = max(time.monotonic() - started, 1e-6)
                bar.update(task, completed=current, rate=f"{(current - start_count) / elapsed:.1f} trials/s")

            if poll:
                while (
                    EvaluationRun.objects.filter(pk__in=run_ids)
                    .exclude(status__in=[EvaluationRun.Status.COMPLETED, EvaluationRun.Status.CANCELLED])
                    .exists()
                ):
                    update()
                    time.sleep(0.5)
                update()
            else:
                runner.execute_runs(run_ids, progress=update)


def json_row(summary: CellSummary) -> dict[str, Any]:
    """The cell as the study report's JSON has it (one shape for both)."""
    return summary.to_dict()


def _fmt(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _with_ci(interval: Interval) -> str:
    if interval.ci_low is None or interval.ci_high is None:
        return _fmt(interval.value, 3)
    return f"{_fmt(interval.value, 3)} [{interval.ci_low:.2f}, {interval.ci_high:.2f}]"


def summary_table(summaries: list[CellSummary]) -> Table:
    """One row per cell; the design gets its own column only when the cells do not all share one."""
    designs = {s.design for s in summaries}
    shared = next(iter(designs)).label() if len(designs) == 1 else ""
    table = Table(title="SVO evaluation by model, value and strategy" + (f" ({shared})" if shared else ""))
    headers = ["model", "value", "strategy", *([] if shared else ["design"])]
    headers += [
        "scored/failed",
        "angle (SD)",
        "categories A/P/I/C",
        "value rationality [95% CI]",
        "VR intention-to-treat",
        "hit",
        "transitive",
        "parser/LLM/unparseable",
        "re-asked",
    ]
    for header in headers:
        table.add_column(header)
    for s in summaries:
        table.add_row(
            s.model,
            s.value,
            s.strategy,
            *([] if shared else [s.design.label()]),
            f"{s.n_scored}/{s.n_failed}",
            f"{_fmt(s.mean_angle)} ({_fmt(s.sd_angle)})",
            "/".join(str(s.categories[c]) for c in svo.CATEGORIES),
            _with_ci(s.value_rationality),
            _with_ci(s.value_rationality_itt),
            _fmt(s.hit_rate.value),
            _fmt(s.transitive_rate.value),
            "/".join(str(s.extraction[m]) for m in ("parser", "llm", "unparseable")),
            str(s.failures["reasked_items"]),
        )
    return table
