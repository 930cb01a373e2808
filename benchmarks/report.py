"""How long the full study report takes on a large study, and how fast the page is served from the cache.

    .venv/bin/python benchmarks/report.py [--trials 100000] [--judgments 10000] [--raters 30] [--n-boot 1000]
                                          [--database-url postgres://postgres@127.0.0.1:5432/hvae_bench_report]
                                          [--rebuild]

Builds (once; reused on later runs unless --rebuild) a simulated study in its own database: every
(model, value, strategy) configuration run twice, scored trials with six item responses and one LLM call
each, and one annotation batch whose transcripts are judged by 3 of ``raters`` raters, plus 4 gold
transcripts judged by every rater (2 raters flagged), each judgment with an extraction audit. Then prints:

- the full report computed from the database (every statistic with ``n_boot`` bootstrap resamples), cold,
  best and median of 3, with the time per section;
- the figures rendered from it;
- the study page served from the cached computation (median and 95th percentile of 20 requests through
  Django's full request cycle, including the cache key's database queries and the template).

Targets (issue 5, on a 2-core machine): full report < 5 s; cached page < 200 ms.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import ParamSpec, TypeVar
from urllib.parse import urlparse

P = ParamSpec("P")
R = TypeVar("R")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
STUDY = "bench-report"
MODELS = ("ref-faithful", "ref-drifting", "ref-stubborn", "ref-random", "ref-noisy")
NOISE = {"ref-faithful": 0.05, "ref-drifting": 0.3, "ref-stubborn": 0.15, "ref-random": 1.0, "ref-noisy": 0.5}
RUNS_PER_CELL = 2
OVERLAP = 3
GOLD = 4
FLAGGED = 2


def ensure_database(url: str) -> None:
    """Create the benchmark's own PostgreSQL database if it does not exist."""
    parsed = urlparse(url)
    if not parsed.scheme.startswith("postgres"):
        return
    import psycopg

    name = parsed.path.lstrip("/")
    admin = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            connection.execute(f'CREATE DATABASE "{name}"')


def timed(function: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> tuple[R, float]:
    """The function's result and how many seconds the call took."""
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--trials", type=int, default=100_000)
    parser.add_argument("--judgments", type=int, default=10_000)
    parser.add_argument("--raters", type=int, default=30)
    parser.add_argument("--n-boot", type=int, default=1000)
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/hvae_bench_report"),
    )
    parser.add_argument("--rebuild", action="store_true", help="Drop and rebuild the simulated study.")
    args = parser.parse_args()

    ensure_database(args.database_url)
    os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("DJANGO_SECRET_KEY", "benchmark-only-secret-key")
    os.environ["DJANGO_SETTINGS_MODULE"] = "hvae_site.settings"
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.cache import cache
    from django.core.management import call_command
    from django.test import Client
    from django.urls import reverse

    from evaluation import svo
    from evaluation.models import Study
    from stats import plots, reports, selectors
    from stats.report_model import Report, to_json
    from tests.stats.builders import add_judgments, build_study

    call_command("migrate", verbosity=0)
    study = Study.objects.filter(name=STUDY).first()
    cells = len(MODELS) * len(svo.VALUES) * 2 * RUNS_PER_CELL
    trials_per_run = max(1, args.trials // cells)
    if study is not None and (args.rebuild or study.runs.count() != cells):
        print("dropping the old simulated study ...", flush=True)
        from annotation.models import HumanJudgment

        HumanJudgment.objects.filter(task__batch__study=study).delete()
        study.batches.all().delete()
        study.delete()
        study = None
    if study is None:
        print(
            f"building {cells * trials_per_run:,} trials and about {args.judgments:,} judgments ...",
            flush=True,
        )
        simulated, seconds = timed(
            build_study,
            STUDY,
            models=MODELS,
            trials_per_run=trials_per_run,
            runs_per_cell=RUNS_PER_CELL,
            noise=NOISE,
            seed=11,
        )
        transcripts = (args.judgments - GOLD * args.raters) // OVERLAP
        _, judging = timed(
            add_judgments,
            simulated,
            n_transcripts=transcripts,
            n_raters=args.raters,
            overlap=OVERLAP,
            n_gold=GOLD,
            flagged_raters=FLAGGED,
            seed=12,
        )
        print(f"  built in {seconds + judging:.0f} s", flush=True)
        study = simulated.study

    trials = selectors.trials_frame(study=study)
    judgments = selectors.judgments_frame(study=study)
    print(
        f"\nstudy {study.name!r}: {len(trials):,} trials, {len(judgments):,} judgments from "
        f"{judgments['rater'].nunique()} raters, {args.n_boot} bootstrap resamples per statistic"
    )

    print("\nfull report from the database (cold, no cache):")
    durations = []
    reports_built: list[Report] = []
    for _ in range(3):
        built, seconds = timed(reports.build_report, study, n_boot=args.n_boot)
        reports_built.append(built)
        durations.append(seconds)
    report = to_json(reports_built[-1])
    print(f"  best {min(durations):.2f} s, median {statistics.median(durations):.2f} s  (target < 5 s)")

    extraction = selectors.extraction_counts(study=study)
    sections = {
        "load trials (values_list)": lambda: selectors.trials_frame(study=study),
        "automated results": lambda: reports.automated_section(trials, extraction),
        "consistency": lambda: reports.consistency_section(trials, seed=0, n_boot=args.n_boot),
        "human validation (incl. loading judgments)": lambda: reports.human_section(
            study, trials, include_flagged=False, seed=0, n_boot=args.n_boot
        ),
        "methods": lambda: reports.methods_section(study),
    }
    for name, section in sections.items():
        _, seconds = timed(section)
        print(f"    {name:<45} {seconds * 1000:7.0f} ms")
    _, seconds = timed(plots.report_figures, report)
    print(f"  figures rendered to SVG: {seconds:.2f} s (once per cached computation)")

    user, _ = get_user_model().objects.get_or_create(username="bench")  # signed in directly, no password
    client = Client()
    client.force_login(user)
    cache.clear()
    url = reverse("study-page", args=[study.pk])
    response, first = timed(client.get, url)
    assert response.status_code == 200, response.status_code
    print(f"\nstudy page, first request (computes and caches report and figures): {first:.2f} s")
    served = []
    for _ in range(20):
        response, seconds = timed(client.get, url)
        assert response.status_code == 200
        served.append(seconds)
    served.sort()
    print(
        f"study page from the cached computation: median {statistics.median(served) * 1000:.0f} ms, "
        f"95th percentile {served[18] * 1000:.0f} ms, page {len(response.content) / 1024:.0f} KiB  "
        "(target < 200 ms)"
    )
    api = reverse("study-report", args=[study.pk])
    timings = sorted(timed(client.get, api)[1] for _ in range(10))
    print(f"report JSON API from the cache: median {statistics.median(timings) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
