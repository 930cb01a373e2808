"""Pushing a large batch to a real Label Studio and syncing as many annotations back, each against 60 s.

    .venv/bin/python benchmarks/labelstudio.py [--tasks 10000] [--raters 10]

Starts its own Label Studio (scripts/labelstudio, on a free port, with its own data dir in a temporary folder;
stopped and removed at the end). The database is ``DATABASE_URL`` when set (PostgreSQL recommended, as in
production), else a fresh SQLite file. It makes a study of ``tasks`` scored trials with realistic transcripts
(the dialogue prompt variant: induction, six decisions and their answers) and item responses, then:

1. push (timed): ``annotation_batch_push`` draws a blind batch of ``tasks`` transcripts and imports them into
   Label Studio: the service's own code path, the command and the API call it;
2. seeding (not timed): ``raters`` raters join, consent and get their Label Studio accounts as on the rater
   pages; every task gets one annotation in the batch's labeling interface (orientation, confidence, a comment
   on some), authored by one of those accounts: the results are imported as predictions and each rater's own
   token turns those of their share of the tasks into their annotations (Label Studio's "create annotations
   from predictions" action), after which the predictions are deleted;
3. sync (timed): ``annotation_sync`` brings every annotation back as a judgment; then again, with nothing new.

No webhook is registered (no secret is set): every judgment arrives through the sync being measured. Printed
per phase: seconds, items per second, the ratio to the 60 s target, and the peak resident memory of this
process (the service side) and of the Label Studio server. It exits 1 when a count is wrong.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.integration.labelstudio_server import LabelStudioServer  # noqa: E402

TARGET_SECONDS = 60.0
PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_mb(pid: int | str = "self") -> float:
    """Resident memory of a process in MB (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/statm") as statm:
            return int(statm.read().split()[1]) * PAGE / 2**20
    except (OSError, ValueError, IndexError):
        return 0.0


@dataclass
class Phase:
    name: str
    items: int
    seconds: float
    start_mb: float
    peak_mb: float
    server_peak_mb: float
    listing_seconds: float | None = None  # of a sync: Label Studio's export and its reading


@contextmanager
def measured(server_pid: int) -> Iterator[dict[str, float]]:
    """Samples this process's and the server's resident memory every 20 ms while the block runs."""
    peaks = {"self": rss_mb(), "server": rss_mb(server_pid), "start": rss_mb()}
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.02):
            peaks["self"] = max(peaks["self"], rss_mb())
            peaks["server"] = max(peaks["server"], rss_mb(server_pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    try:
        yield peaks
    finally:
        peaks["seconds"] = time.perf_counter() - started
        done.set()
        sampler.join()
        peaks["self"] = max(peaks["self"], rss_mb())


def timed(name: str, items: int, server_pid: int, work: Callable[[], Any]) -> tuple[Phase, Any]:
    with measured(server_pid) as peaks:
        outcome = work()
    return Phase(name, items, peaks["seconds"], peaks["start"], peaks["self"], peaks["server"]), outcome


def make_study(n: int, seed: int) -> Any:
    """A study of ``n`` scored trials over four models, the four values and both strategies, with the
    transcripts the dialogue prompt variant produces and one item response per primary item."""
    from evaluation import prompts, svo
    from evaluation.models import EvaluationRun, ItemResponse, ModelEndpoint, Study, Trial

    rng = random.Random(seed)
    stamp = f"{time.time():.0f}"
    study = Study.objects.create(name=f"label studio benchmark {stamp}")
    models = [("gpt-bench", False), ("llama-bench", False), ("mistral-bench", False), ("qwen-bench", False)]
    runs = []
    for model, reference in models:
        endpoint = ModelEndpoint.objects.create(
            name=f"bench-{model}-{stamp}", base_url="http://127.0.0.1:9/v1", is_reference=reference
        )
        for value in svo.VALUES:
            for strategy in ("plain", "goal"):
                runs.append(
                    EvaluationRun.objects.create(
                        study=study,
                        endpoint=endpoint,
                        model=model,
                        value=value,
                        strategy=strategy,
                        n_trials=max(1, -(-n // 32)),
                        status=EvaluationRun.Status.COMPLETED,
                    )
                )
    trials, choices = [], []
    for number in range(n):
        run = runs[number % len(runs)]
        presented = prompts.present_items(
            svo.PRIMARY_ITEMS, labels="letters", order="random", trial_seed=number
        )
        plan = prompts.plan_conversation(
            value=run.value, strategy=run.strategy, variant="dialogue", presented=presented
        )
        faithful = rng.random() < (0.9 if run.model == "ref-faithful" else 0.6)
        category = run.value if faithful else rng.choice(svo.CATEGORIES)
        transcript = [{"role": "system", "content": plan.system or ""}]
        transcript += [
            {"role": "user", "content": plan.description_request or ""},
            {
                "role": "assistant",
                "content": f"A person who is {run.value} weighs what a decision gives others against what "
                "it gives them. " + "They think about fairness, about the long run and about trust. " * 3,
            },
        ]
        picked = []
        for index, shown in enumerate(presented):
            option = rng.randint(1, 9)
            picked.append(option)
            request = plan.item_request(index)
            if index == 0:
                request = f"{plan.task_preamble}\n\n{request}"
            transcript += [
                {"role": "user", "content": request},
                {
                    "role": "assistant",
                    "content": f"Weighing both payoffs, I choose option {shown.label_of(option)}. "
                    "It keeps a balance I can defend.",
                },
            ]
        trials.append(
            Trial(
                run=run,
                index=number // len(runs),
                seed=number,
                status=Trial.Status.SCORED,
                transcript=transcript,
                angle=rng.uniform(-16, 61),
                category=category,
                category_hit=category == run.value,
            )
        )
        choices.append(picked)
    Trial.objects.bulk_create(trials, batch_size=1000)
    responses = []
    for trial, picked in zip(trials, choices, strict=True):
        for item, option in zip(svo.PRIMARY_ITEMS, picked, strict=True):
            own, other = item.allocation(option)
            responses.append(
                ItemResponse(
                    trial=trial,
                    item=item.number,
                    presented_order=list(range(1, 10)),
                    raw_text=f"I choose option {option}.",
                    extracted_option=option,
                    extraction_method=ItemResponse.Method.PARSER,
                    payoff_self=own,
                    payoff_other=other,
                )
            )
    ItemResponse.objects.bulk_create(responses, batch_size=2000)
    return study


def seed_annotations(batch: Any, n_raters: int, server: LabelStudioServer, seed: int) -> dict[int, int]:
    """One annotation per task of the batch in Label Studio, by raters the service provisioned; returns the
    number of annotations per Label Studio user id."""
    import httpx

    from annotation import labeling, services
    from annotation.labelstudio import LabelStudioClient

    rng = random.Random(seed)
    project_id = batch.label_studio_project_id
    task_ids = list(batch.tasks.order_by("pk").values_list("label_studio_task_id", flat=True))
    admin = {"Authorization": f"Token {server.api_key}"}
    with LabelStudioClient(server.url, server.api_key, timeout=600) as ls:
        raters = []
        for number in range(n_raters):
            rater = services.rater_join(batch=batch, participant_id=f"BENCH-{number:03d}")
            rater = services.rater_provision(rater=services.rater_consent(rater=rater), client=ls)
            account = ls.ensure_user(
                email=rater.email,
                username=f"rater-{batch.key}-{rater.pk}",
                first_name="Rater",
                last_name=str(rater.pk),
                password=rater.label_studio_password,
            )
            if account.id != rater.label_studio_user_id or not account.token:
                raise SystemExit(f"error: Label Studio gave {rater.email} another account or no token")
            raters.append(account)
    predictions = []
    for task_id in task_ids:
        result: list[dict[str, Any]] = [
            {
                "from_name": labeling.ORIENTATION,
                "to_name": labeling.DIALOGUE,
                "type": "choices",
                "value": {"choices": [rng.choice(labeling.JUDGED_CATEGORIES)]},
            },
            {
                "from_name": labeling.CONFIDENCE,
                "to_name": labeling.DIALOGUE,
                "type": "rating",
                "value": {"rating": rng.randint(1, 5)},
            },
        ]
        if rng.random() < 0.2:
            result.append(
                {
                    "from_name": labeling.COMMENT,
                    "to_name": labeling.DIALOGUE,
                    "type": "textarea",
                    "value": {"text": ["The agent keeps more for itself on the later items."]},
                }
            )
        predictions.append({"task": task_id, "result": result, "model_version": "benchmark-seed"})
    with httpx.Client(base_url=server.url, timeout=900) as http:
        for start in range(0, len(predictions), 2000):
            response = http.post(
                f"/api/projects/{project_id}/import/predictions",
                json=predictions[start : start + 2000],
                headers=admin,
            )
            response.raise_for_status()
        made: dict[int, int] = {}
        share = -(-len(task_ids) // len(raters))
        for number, account in enumerate(raters):
            mine = task_ids[number * share : (number + 1) * share]
            if not mine:
                continue
            response = http.post(
                "/api/dm/actions",
                params={"id": "predictions_to_annotations", "project": project_id},
                json={"selectedItems": {"all": False, "included": mine}},
                headers={"Authorization": f"Token {account.token}"},
            )
            response.raise_for_status()
            made[account.id] = len(mine)
        response = http.post(
            "/api/dm/actions",
            params={"id": "delete_tasks_predictions", "project": project_id},
            json={"selectedItems": {"all": True, "excluded": []}},
            headers=admin,
        )
        response.raise_for_status()
    return made


def report(phase: Phase) -> None:
    growth = f"{phase.peak_mb:.0f} (+{phase.peak_mb - phase.start_mb:.0f})"
    listing = "" if phase.listing_seconds is None else f"{phase.listing_seconds:>14.1f}"
    print(
        f"{phase.name:<26}{phase.seconds:>8.1f}{phase.items / phase.seconds:>8.0f}"
        f"{phase.seconds / TARGET_SECONDS:>9.2f}{growth:>18}{phase.server_peak_mb:>12.0f}{listing}"
    )


def timed_client_class() -> type:
    from annotation.labelstudio import AnnotationListing, LabelStudioClient

    class TimedClient(LabelStudioClient):
        """The service's client, noting how long Label Studio's listing takes within a sync."""

        listing_seconds = 0.0

        def annotation_listing(self, project_id: int, since: Any) -> AnnotationListing:
            started = time.perf_counter()
            try:
                return super().annotation_listing(project_id, since)
            finally:
                self.listing_seconds += time.perf_counter() - started

    return TimedClient


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tasks", type=int, default=10_000, help="Tasks pushed and annotations synced.")
    parser.add_argument("--raters", type=int, default=10, help="Raters sharing the annotations.")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if args.tasks < 1 or args.raters < 1:
        print("error: --tasks and --raters must be at least 1", file=sys.stderr)
        raise SystemExit(2)

    scratch = Path(tempfile.mkdtemp(prefix="hvae-bench-ls-"))
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{scratch}/bench.sqlite3")
    os.environ["DJANGO_SETTINGS_MODULE"] = "hvae_site.settings"
    os.environ.setdefault("DJANGO_SECRET_KEY", "benchmark-only-secret-key")
    os.environ["LOG_LEVEL"] = "WARNING"
    # Label Studio listens on loopback, which the service may call only when loopback is allowed.
    os.environ["HVAE_OUTBOUND_ALLOWED_HOSTS"] = "127.0.0.1,::1,localhost"
    server = LabelStudioServer(data_dir=scratch / "labelstudio" / "data")
    print(f"starting Label Studio on port {server.port} (data in {scratch})", flush=True)
    server.start()
    try:
        os.environ["LABEL_STUDIO_URL"] = server.url
        os.environ["LABEL_STUDIO_API_KEY"] = server.api_key
        os.environ["LABEL_STUDIO_WEBHOOK_SECRET"] = ""  # no webhook: judgments come through the sync alone
        ok = run(args, server)
    finally:
        server.stop()
        shutil.rmtree(scratch, ignore_errors=True)
    raise SystemExit(0 if ok else 1)


def run(args: argparse.Namespace, server: LabelStudioServer) -> bool:
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    server_pid = int((server.state_dir / "server.pid").read_text())
    began = time.perf_counter()
    study = make_study(args.tasks, args.seed)
    try:
        return measure(args, server, server_pid, study, began)
    finally:
        remove(study)  # its Label Studio ids belong to a server that is about to go


def remove(study: Any) -> None:
    """The benchmark's rows, so that a database kept between runs holds none of them."""
    from annotation.models import AnnotationBatch, AnnotationTask, HumanJudgment, Rater
    from evaluation.models import ModelEndpoint

    endpoints = list(ModelEndpoint.objects.filter(runs__study=study).distinct().values_list("pk", flat=True))
    HumanJudgment.objects.filter(task__batch__study=study).delete()
    Rater.objects.filter(batch__study=study).delete()
    AnnotationTask.objects.filter(batch__study=study).delete()
    AnnotationBatch.objects.filter(study=study).delete()
    study.delete()
    ModelEndpoint.objects.filter(pk__in=endpoints).delete()


def measure(
    args: argparse.Namespace, server: LabelStudioServer, server_pid: int, study: Any, began: float
) -> bool:
    import django
    from django.db import connection

    from annotation import services
    from annotation.models import AnnotationTask, HumanJudgment

    print(f"study of {args.tasks} scored trials made in {time.perf_counter() - began:.1f} s", flush=True)

    push, pushed = timed(
        "push",
        args.tasks,
        server_pid,
        lambda: services.annotation_batch_push(study=study, size=args.tasks, seed=args.seed),
    )
    batch = pushed.batch
    with_ids = AnnotationTask.objects.filter(batch=batch).exclude(label_studio_task_id=None).count()
    print(f"pushed: {pushed.tasks_created} created, {with_ids} tasks with a Label Studio id", flush=True)

    began = time.perf_counter()
    made = seed_annotations(batch, args.raters, server, args.seed)
    print(
        f"seeded {sum(made.values())} annotations by {len(made)} raters in {time.perf_counter() - began:.1f} s"
        " (not timed)",
        flush=True,
    )

    client = timed_client_class()(server.url, server.api_key)
    sync, first = timed(
        "sync", args.tasks, server_pid, lambda: services.annotation_sync(study=study, client=client)
    )
    sync.listing_seconds, client.listing_seconds = client.listing_seconds, 0.0
    judgments = HumanJudgment.objects.filter(task__batch=batch)
    stored = judgments.count()
    attributed = judgments.exclude(rater=None).count()
    by_user = dict(
        judgments.values_list("label_studio_user_id").annotate(n=django.db.models.Count("pk")).order_by()
    )
    again, second = timed(
        "sync again (nothing new)",
        args.tasks,
        server_pid,
        lambda: services.annotation_sync(study=study, client=client),
    )
    again.listing_seconds = client.listing_seconds
    # What a batch that promises gold per rater adds to its push: every task's own overlap, one request per task
    # (Label Studio has no bulk edit of it; see services.SERVING_SETTINGS). Timed on the same project after the
    # syncs, with a value every task lacks, so each task is edited once.
    task_ids = list(
        AnnotationTask.objects.filter(batch=batch)
        .values_list("label_studio_task_id", flat=True)
        .order_by("pk")
    )
    project_id = batch.label_studio_project_id
    assert project_id is not None
    overlaps, edited = timed(
        "per-task overlaps (gold/rater)",
        args.tasks,
        server_pid,
        lambda: client.set_serving(
            project_id,
            project_settings={},
            task_overlaps={task_id: batch.overlap + 1 for task_id in task_ids if task_id is not None},
        ),
    )
    client.close()

    print()
    print(
        f"{args.tasks} tasks, {args.raters} raters; database {connection.vendor}; Label Studio "
        f"{server.url}; {os.cpu_count()} CPUs seen, load average {os.getloadavg()[0]:.1f}"
    )
    print(
        f"{'phase':<26}{'wall s':>8}{'per s':>8}{'of 60 s':>9}{'service peak MB':>18}{'LS peak MB':>12}"
        f"{'LS export s':>14}"
    )
    report(push)
    report(sync)
    report(again)
    report(overlaps)
    print(
        f"checks: {with_ids} tasks with Label Studio ids; sync {first.annotations} annotations, "
        f"{first.created} created; {stored} judgments ({attributed} with their rater); again "
        f"{second.annotations} annotations, {second.created} created, {second.changed} changed, "
        f"{second.deleted} deleted; {edited} task overlaps set"
    )
    ok = (
        pushed.tasks_created == args.tasks
        and with_ids == args.tasks
        and first.created == stored == attributed == args.tasks
        and by_user == made
        and (second.annotations, second.created, second.changed, second.deleted) == (args.tasks, 0, 0, 0)
        and edited == args.tasks
    )
    within = all(phase.seconds < TARGET_SECONDS for phase in (push, sync, again))
    print(
        "counts right" if ok else "FAILED: a count is wrong",
        "; push and syncs under 60 s" if within else "; push or sync over 60 s",
        f"; per-task overlaps {overlaps.seconds:.0f} s ({args.tasks / overlaps.seconds:.0f} tasks/s), the extra"
        " push time of a batch that promises gold per rater",
    )
    return ok


if __name__ == "__main__":
    main()
