"""Executes trials: the asyncio side of an evaluation run.

Workers claim one pending trial at a time (a conditional UPDATE, so several processes or machines can share a
run), hold one fresh conversation with the model, extract every decision, and store the result. Inside one
process, trials run concurrently under each endpoint's limits. While a trial runs its claim is refreshed by a
heartbeat; a trial whose worker died (crash, kill) stops heart-beating, is given back after
``HVAE_STALE_CLAIM_SECONDS`` and restarts from the beginning, so nothing is lost and nothing is done twice.
LLM calls are buffered and written in bulk every half second.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

from django.db import connection, connections

from evaluation import extraction, prompts, services, svo
from evaluation.llm import ChatResult, LLMClient
from evaluation.models import EvaluationRun, ModelEndpoint, Trial

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[Trial], None]
FLUSH_SECONDS = 0.5
DB_THREADS = 4
# More trials in flight than the endpoint's request limit (which the client enforces): while some trials are
# between calls (claiming, extracting, storing), others wait for a slot, so the endpoint's limit stays used.
TRIALS_PER_REQUEST_SLOT = 2
_T = TypeVar("_T")
CANCEL_POLL_SECONDS = 1.0


class _TrialFailed(Exception):
    pass


class _Cancelled(Exception):
    pass


class _Database:
    """Where the executor's ORM calls run: a few threads on a database server, one on SQLite (one writer).

    The event loop never waits on the database; with PostgreSQL, claims and results of different trials are
    written in parallel over one connection per thread, closed when the executor ends.
    """

    def __init__(self) -> None:
        self.threads = 1 if connection.vendor == "sqlite" else DB_THREADS
        self.pool = ThreadPoolExecutor(self.threads, thread_name_prefix="hvae-db")

    async def __call__(self, fn: Callable[..., _T], /, *args: Any, **kwargs: Any) -> _T:
        return await asyncio.get_running_loop().run_in_executor(self.pool, partial(fn, *args, **kwargs))

    def close(self) -> None:
        barrier = threading.Barrier(self.threads)

        def close_in_this_thread() -> None:
            barrier.wait(timeout=30)  # one task per thread: every thread closes its own connection
            connections.close_all()

        for future in [self.pool.submit(close_in_this_thread) for _ in range(self.threads)]:
            future.result()
        self.pool.shutdown()


@dataclass
class _CallBuffer:
    db: _Database
    pending: list[services.PendingCall] = field(default_factory=list)

    def add(self, result: ChatResult, *, run_id: int, trial_id: int, purpose: str, item: int | None) -> None:
        self.pending.extend(services.PendingCall(run_id, trial_id, purpose, item, r) for r in result.records)

    async def flush(self) -> None:
        if self.pending:
            batch, self.pending = self.pending, []
            await self.db(services.llm_calls_store, calls=batch)


class Executor:
    """Runs the pending trials of some runs to the end, in this process."""

    def __init__(
        self,
        run_ids: Sequence[int],
        *,
        progress: ProgressCallback | None = None,
        max_trials: int | None = None,
        stale_seconds: float | None = None,
    ) -> None:
        self.run_ids = list(run_ids)
        self.progress = progress
        self.max_trials = max_trials
        self.stale_seconds = stale_seconds if stale_seconds is not None else services.stale_claim_seconds()
        self.claimed = 0
        self.db = _Database()
        self.calls = _CallBuffer(self.db)
        self.in_flight: dict[str, int] = {}
        self.runs: dict[int, EvaluationRun] = {}
        self.runs_by_endpoint: dict[int, list[int]] = {}
        self.cancelled: set[int] = set()
        self.clients: dict[int, LLMClient] = {}
        self.templates: dict[int, dict[str, str]] = {}

    def run(self) -> None:
        try:
            asyncio.run(self.execute())
        finally:
            self.db.close()

    async def execute(self) -> None:
        endpoints = await self.db(self._endpoints)
        await self.db(services.evaluation_run_mark_started, run_ids=self.run_ids)
        background = [
            asyncio.create_task(self._flush_forever()),
            asyncio.create_task(self._heartbeat_forever()),
            asyncio.create_task(self._watch_cancellation()),
        ]
        try:
            for endpoint in endpoints:
                self.clients[endpoint.pk] = LLMClient(services.endpoint_config(endpoint))
            workers = [
                asyncio.create_task(self._worker(endpoint.pk))
                for endpoint in endpoints
                for _ in range(TRIALS_PER_REQUEST_SLOT * self.clients[endpoint.pk].config.max_concurrency)
            ]
            await asyncio.gather(*workers)
        finally:
            for task in background:
                task.cancel()
            await self.calls.flush()
            for client in self.clients.values():
                await client.close()
            for run_id in self.run_ids:
                await self.db(services.evaluation_run_refresh, run_id=run_id)

    def _endpoints(self) -> list[ModelEndpoint]:
        runs = EvaluationRun.objects.filter(pk__in=self.run_ids).select_related(
            "endpoint", "extractor_endpoint"
        )
        endpoints: dict[int, ModelEndpoint] = {}
        for run in runs:
            self.runs[run.pk] = run
            endpoints[run.endpoint.pk] = run.endpoint
            self.runs_by_endpoint.setdefault(run.endpoint.pk, []).append(run.pk)
            if run.extractor_endpoint is not None:
                endpoints[run.extractor_endpoint.pk] = run.extractor_endpoint
            self.templates[run.pk] = services.run_templates(run)
        return list(endpoints.values())

    async def _flush_forever(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            await self.calls.flush()

    async def _heartbeat_forever(self) -> None:
        while True:
            await asyncio.sleep(max(0.2, self.stale_seconds / 4))
            await self.db(services.trials_heartbeat, tokens=list(self.in_flight))

    async def _claim(self, endpoint_id: int, token: str) -> Trial | None:
        if self.max_trials is not None and self.claimed >= self.max_trials:
            return None
        run_ids = self.runs_by_endpoint.get(endpoint_id, [])
        trial = await self.db(services.trial_claim, run_ids=run_ids, token=token)
        if trial is None:
            return None
        trial.run = self.runs[trial.run_id]  # loaded once with its endpoints, not per trial
        self.claimed += 1
        return trial

    async def _worker(self, endpoint_id: int) -> None:
        while True:
            token = services.new_claim_token()
            self.in_flight[token] = 0  # before the claim: our own trials are never "held elsewhere"
            try:
                trial = await self._claim(endpoint_id, token)
                if trial is None:
                    self.in_flight.pop(token)
                    if await self._wait_for_stale(endpoint_id):
                        continue
                    return
                self.in_flight[token] = trial.pk
                try:
                    outcome = await self._run_trial(trial)
                except _Cancelled:
                    await self.db(services.trial_release, trial_id=trial.pk, token=token)
                    continue
                stored = await self.db(
                    services.trial_record_result, trial=trial, token=token, outcome=outcome
                )
            finally:
                self.in_flight.pop(token, None)
            if stored and self.progress is not None:
                self.progress(trial)

    async def _wait_for_stale(self, endpoint_id: int) -> bool:
        """With nothing pending, wait for trials another (possibly dead) worker holds; True to try again."""
        if self.max_trials is not None and self.claimed >= self.max_trials:
            return False
        run_ids = self.runs_by_endpoint.get(endpoint_id, [])
        held = await self.db(self._held_elsewhere, run_ids)
        if not held:
            return False
        # Poll often enough to finish soon after the last live trial, release only what went stale.
        await asyncio.sleep(min(1.0, max(0.2, self.stale_seconds / 4)))
        await self.db(services.trials_release_stale, run_ids=run_ids, older_than_seconds=self.stale_seconds)
        return True

    def _held_elsewhere(self, run_ids: list[int]) -> bool:
        return (
            Trial.objects.filter(
                run_id__in=run_ids, run__status=EvaluationRun.Status.RUNNING, status=Trial.Status.RUNNING
            )
            .exclude(claim_token__in=list(self.in_flight))
            .exists()
        )

    async def _watch_cancellation(self) -> None:
        """Once a second, note which runs stopped running (cancelled); their trials stop at the next call."""
        while True:
            await asyncio.sleep(CANCEL_POLL_SECONDS)
            stopped = await self.db(self._stopped_runs)
            self.cancelled = stopped

    def _stopped_runs(self) -> set[int]:
        return set(
            EvaluationRun.objects.filter(pk__in=self.run_ids)
            .exclude(status=EvaluationRun.Status.RUNNING)
            .values_list("pk", flat=True)
        )

    async def _run_trial(self, trial: Trial) -> services.TrialOutcome:
        run = trial.run
        templates = self.templates[run.pk]
        items = svo.ALL_ITEMS if run.item_set == EvaluationRun.ItemSet.ALL else svo.PRIMARY_ITEMS
        presented = prompts.present_items(
            items, labels=run.option_labels, order=run.option_order, trial_seed=trial.seed
        )
        plan = prompts.plan_conversation(
            value=run.value,
            strategy=run.strategy,
            variant=run.prompt_variant,
            presented=presented,
            templates=templates,
        )
        client = self.clients[run.endpoint_id]
        messages: list[dict[str, str]] = []
        if plan.system is not None:
            messages.append({"role": "system", "content": plan.system})
        outcomes: list[services.ItemOutcome] = []

        async def ask(content: str, purpose: str, item: int | None = None) -> str:
            if run.pk in self.cancelled:
                raise _Cancelled
            messages.append({"role": "user", "content": content})
            result = await client.chat(
                messages,
                model=run.model,
                temperature=run.temperature,
                top_p=run.top_p,
                max_tokens=run.max_tokens,
                seed=trial.seed,
            )
            self.calls.add(result, run_id=run.pk, trial_id=trial.pk, purpose=purpose, item=item)
            if result.text is None:
                raise _TrialFailed(f"{purpose} call failed: {result.error}")
            messages.append({"role": "assistant", "content": result.text})
            return result.text

        try:
            if plan.description_request:
                await ask(plan.description_request, "value_description")
            prefix = f"{plan.task_preamble}\n\n"
            if plan.preamble_alone:  # its own turn, answered together with the next one
                messages.append({"role": "user", "content": plan.task_preamble})
                prefix = ""
            goal = None
            if plan.goal_request:
                goal = await ask(prefix + plan.goal_request, "goal")
                prefix = ""
            for number, shown in enumerate(presented):
                request = (prefix if number == 0 else "") + plan.item_request(number, goal)
                answer = await ask(request, "item", shown.item.number)
                outcomes.append(await self._decide(trial, plan, shown, answer, ask))
        except _TrialFailed as exc:
            return services.TrialOutcome(transcript=messages, items=outcomes, failure=str(exc))
        return services.TrialOutcome(transcript=messages, items=outcomes)

    async def _decide(
        self,
        trial: Trial,
        plan: prompts.ConversationPlan,
        shown: prompts.PresentedItem,
        answer: str,
        ask: Callable[[str, str, int | None], Awaitable[str]],
    ) -> services.ItemOutcome:
        """The option an answer chose, recovering an unreadable answer as the run's ``on_unreadable`` says.

        ``reask``: ask once more in the same conversation, then the extractor on the new answer; the ``paper``
        variant tries the extractor on the first answer before asking (the paper's order). ``extract``: the
        extractor only. ``fail``: nothing. An answer the parser reads costs nothing more.
        """
        found = self._parse(shown, answer)
        if found.position is not None:
            return self._outcome(shown, answer, found.position, "parser", found.detail)
        run = trial.run
        mode = run.on_unreadable
        detail = found.detail
        has_extractor = bool(run.extractor_model) and run.extractor_endpoint_id is not None
        if mode == EvaluationRun.OnUnreadable.FAIL:
            return self._outcome(shown, answer, None, "unparseable", detail)
        if has_extractor and (mode == EvaluationRun.OnUnreadable.EXTRACT or plan.extractor_first):
            position, detail = await self._extractor_read(trial, shown, answer, detail)
            if position is not None:
                return self._outcome(shown, answer, position, "llm", detail)
        if mode != EvaluationRun.OnUnreadable.REASK:
            return self._outcome(shown, answer, None, "unparseable", detail)
        again = await ask(plan.reask_request, "reask", shown.item.number)
        first = f"re-asked ({found.detail[:60]})"
        found = self._parse(shown, again)
        if found.position is not None:
            return self._outcome(shown, again, found.position, "parser", f"{first}; {found.detail}", True)
        detail = f"{first}; {found.detail}"
        if has_extractor:
            position, detail = await self._extractor_read(trial, shown, again, detail)
            if position is not None:
                return self._outcome(shown, again, position, "llm", f"{first}; {detail}", True)
        return self._outcome(shown, again, None, "unparseable", detail, True)

    @staticmethod
    def _parse(shown: prompts.PresentedItem, answer: str) -> extraction.Extraction:
        allocations = [shown.item.allocation(option) for option in shown.order]
        return extraction.parse_choice(answer, labels=shown.labels, allocations=allocations)

    @staticmethod
    def _outcome(
        shown: prompts.PresentedItem,
        answer: str,
        position: int | None,
        method: str,
        detail: str,
        reasked: bool = False,
    ) -> services.ItemOutcome:
        """An item's result; ``answer`` is the answer the option was read from (the re-asked one if asked)."""
        return services.ItemOutcome(
            item=shown.item.number,
            presented_order=list(shown.order),
            raw_text=answer,
            extracted_option=shown.canonical_option(position) if position is not None else None,
            method=method,
            detail=detail,
            reasked=reasked,
        )

    async def _extractor_read(
        self, trial: Trial, shown: prompts.PresentedItem, answer: str, detail: str
    ) -> tuple[int | None, str]:
        """Ask the run's LLM extractor which option ``answer`` chose: (display position or None, detail)."""
        run = trial.run
        assert run.extractor_endpoint_id is not None
        request = prompts.extraction_messages(shown, answer, self.templates[run.pk])
        result = await self.clients[run.extractor_endpoint_id].chat(
            request, model=run.extractor_model, temperature=0.0, max_tokens=20, seed=trial.seed
        )
        self.calls.add(result, run_id=run.pk, trial_id=trial.pk, purpose="extraction", item=shown.item.number)
        if result.text is None:
            return None, f"{detail}; extractor call failed: {result.error}"[:200]
        position = extraction.parse_extractor_reply(result.text, labels=shown.labels)
        if position is not None:
            return position, f"{run.extractor_model} answered {result.text.strip()[:40]!r}"
        return None, f"{detail}; extractor answered {result.text.strip()[:40]!r}"


def execute_runs(
    run_ids: Sequence[int], *, progress: ProgressCallback | None = None, max_trials: int | None = None
) -> None:
    """Run the given runs' pending trials in this process until none is left (or ``max_trials`` are done)."""
    Executor(run_ids, progress=progress, max_trials=max_trials).run()
