"""python manage.py run_evaluation: bad input exits 2 before any call; JSON output; resume after a kill."""

from __future__ import annotations

import json
import signal
import time
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from evaluation.models import EvaluationRun, ItemResponse, LLMCall, ModelEndpoint, Trial
from evaluation.reference_llm.server import ServerConfig, start_in_thread
from tests.processes import manage


def run_cli(*args: str) -> str:
    out = StringIO()
    call_command("run_evaluation", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--values", "selfless"], "unknown value"),
        (["--strategies", "clever"], "unknown strategy"),
        (["--trials", "0"], "--trials must be at least 1"),
        (["--models", "gpt-nonexistent"], "does not serve model"),
        (["--api-key-env", "HVAE_LLM_KEY_MISSING"], "not an allowed key variable, or not set"),
        (["--concurrency", "0"], "--concurrency"),
        (["--on-unreadable", "guess"], "Unknown on_unreadable 'guess'"),
        (["--temperature", "warm"], "--temperature must be a number"),
        (["--temperature", "5"], "--temperature must be a number between 0 and 2"),
        (["--variant", "paper", "--items", "all"], "six primary items"),
        (["--variant", "paper", "--labels", "numbers"], "options A to I"),
    ],
)
def test_bad_input_exits_2_before_any_call(db, reference_server, args, message, monkeypatch) -> None:
    monkeypatch.delenv("HVAE_LLM_KEY_MISSING", raising=False)
    base = ["--study", "cli", "--endpoint-url", reference_server, "--models", "ref-faithful"]
    with pytest.raises(CommandError, match=message) as error:
        run_cli(*base, *args)
    assert error.value.returncode == 2
    assert not LLMCall.objects.exists()
    assert not Trial.objects.exists()


def test_unreachable_endpoint_exits_2(db) -> None:
    with pytest.raises(CommandError, match="not reachable") as error:
        run_cli("--study", "cli", "--endpoint-url", "http://127.0.0.1:9/v1", "--models", "m")
    assert error.value.returncode == 2


def test_cli_process_exit_code_is_2_on_bad_input(transactional_db, reference_server) -> None:
    process = manage(
        "run_evaluation",
        "--study",
        "x",
        "--endpoint-url",
        reference_server,
        "--models",
        "ref-faithful",
        "--trials",
        "-1",
    )
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 2
    assert "--trials must be at least 1" in stderr
    assert "Traceback" not in stderr


@pytest.mark.django_db(transaction=True)
def test_json_output(reference_server) -> None:
    out = run_cli(
        "--study",
        "cli",
        "--endpoint-url",
        reference_server,
        "--models",
        "ref-faithful,ref-stubborn",
        "--values",
        "prosocial,competitive",
        "--strategies",
        "plain,goal",
        "--trials",
        "3",
        "--extractor-model",
        "ref-extractor",
        "--json",
    )
    rows = json.loads(out)
    assert len(rows) == 2 * 2 * 2
    keys = {
        "model",
        "value",
        "strategy",
        "n_trials",
        "n_scored",
        "design",
        "mean_angle",
        "sd_angle",
        "value_rationality",
        "value_rationality_itt",
        "failures",
        "hit_rate",
        "transitive_rate",
        "extraction",
    }
    assert all(keys <= set(row) for row in rows)
    assert ModelEndpoint.objects.get().is_reference, "results of the reference agents are labelled as theirs"
    faithful = [r for r in rows if r["model"] == "ref-faithful"]
    assert all(r["hit_rate"]["value"] == 1.0 and r["n_scored"] == 3 for r in faithful), [
        (r["value"], r["strategy"], r["n_scored"], r["hit_rate"], r["extraction"]) for r in faithful
    ]
    stubborn_competitive = [r for r in rows if r["model"] == "ref-stubborn" and r["value"] == "competitive"]
    assert all(r["hit_rate"]["value"] == 0.0 for r in stubborn_competitive)


@pytest.mark.django_db(transaction=True)
def test_resume_after_kill_neither_duplicates_nor_loses_trials() -> None:
    with start_in_thread(ServerConfig(host="127.0.0.1", port=0, latency_ms=60)) as server:
        args = [
            "run_evaluation",
            "--study",
            "resume",
            "--endpoint-url",
            server.base_url,
            "--models",
            "ref-faithful",
            "--values",
            "all",
            "--trials",
            "12",
            "--concurrency",
            "4",
            "--extractor-model",
            "ref-extractor",
        ]
        first = manage(*args, env={"HVAE_STALE_CLAIM_SECONDS": "2"})
        deadline = time.monotonic() + 120
        while Trial.objects.filter(status=Trial.Status.SCORED).count() < 8:
            assert first.poll() is None, first.communicate()[1][-2000:]
            assert time.monotonic() < deadline, "the first run made no progress"
            time.sleep(0.2)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
        done_before = Trial.objects.filter(status=Trial.Status.SCORED).count()
        assert done_before < 48
        second = manage(*args, env={"HVAE_STALE_CLAIM_SECONDS": "2"})
        _, stderr = second.communicate(timeout=300)
        assert second.returncode == 0, stderr[-3000:]
    assert EvaluationRun.objects.count() == 4
    assert Trial.objects.count() == 48
    assert Trial.objects.filter(status=Trial.Status.SCORED).count() == 48
    assert ItemResponse.objects.count() == 48 * 6
    assert set(EvaluationRun.objects.values_list("status", flat=True)) == {EvaluationRun.Status.COMPLETED}


@pytest.mark.django_db(transaction=True)
def test_extractor_on_its_own_endpoint(reference_server) -> None:
    with start_in_thread(ServerConfig(host="127.0.0.1", port=0)) as extractor:
        run_cli(
            "--study",
            "cli",
            "--endpoint-url",
            reference_server,
            "--models",
            "ref-random",
            "--values",
            "prosocial",
            "--trials",
            "4",
            "--items",
            "all",
            "--extractor-model",
            "ref-extractor",
            "--extractor-endpoint",
            extractor.base_url,
        )
        run = EvaluationRun.objects.get()
        assert run.extractor_endpoint is not None
        assert run.extractor_endpoint.base_url == extractor.base_url
        assert run.extractor_endpoint_id != run.endpoint_id
        assert Trial.objects.filter(status=Trial.Status.SCORED).count() == 4


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--extractor-endpoint", "no-such-endpoint", "--extractor-model", "ref-extractor"],
            "no saved endpoint",
        ),
        (["--extractor-endpoint", "http://127.0.0.1:9/v1", "--extractor-model", "x"], "extractor endpoint"),
        (["--extractor-endpoint", "http://127.0.0.1:9/v1"], "needs --extractor-model"),
    ],
)
def test_bad_extractor_endpoint_exits_2(db, reference_server, args, message) -> None:
    with pytest.raises(CommandError, match=message) as error:
        run_cli("--study", "cli", "--endpoint-url", reference_server, "--models", "ref-faithful", *args)
    assert error.value.returncode == 2
    assert not Trial.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_new_user_run_with_no_extractor_scores_every_trial(reference_server) -> None:
    """``ref-faithful`` over every value and both strategies, no extractor: unreadable answers are asked about
    again (the default ``--on-unreadable reask``), so no trial is lost."""
    rows = json.loads(
        run_cli(
            "--study",
            "new user",
            "--endpoint-url",
            reference_server,
            "--models",
            "ref-faithful",
            "--strategies",
            "plain,goal",
            "--trials",
            "4",
            "--json",
        )
    )
    assert len(rows) == 8
    assert all(r["n_scored"] == 4 and r["n_failed"] == 0 for r in rows), rows
    runs = EvaluationRun.objects.all()
    assert {r.temperature for r in runs} == {1.0}
    assert {r.on_unreadable for r in runs} == {"reask"}
    assert (
        ItemResponse.objects.filter(reasked=True).count() == LLMCall.objects.filter(purpose="reask").count()
    )


@pytest.mark.django_db(transaction=True)
def test_paper_variant_options_from_the_command_line(reference_server) -> None:
    run_cli(
        "--study",
        "paper",
        "--endpoint-url",
        reference_server,
        "--models",
        "ref-faithful",
        "--values",
        "competitive",
        "--variant",
        "paper",
        "--on-unreadable",
        "fail",
        "--trials",
        "2",
    )
    run = EvaluationRun.objects.get()
    assert (run.prompt_variant, run.temperature, run.on_unreadable) == ("paper", None, "fail")
    assert run.provenance["definitions"] == run.definitions_version
    assert not LLMCall.objects.filter(purpose="reask").exists()
    run_cli(
        "--study",
        "paper",
        "--endpoint-url",
        reference_server,
        "--models",
        "ref-faithful",
        "--values",
        "competitive",
        "--temperature",
        "none",
        "--trials",
        "1",
    )
    dialogue = EvaluationRun.objects.get(prompt_variant="dialogue")
    assert dialogue.temperature is None
    assert all("temperature" not in c.params for c in LLMCall.objects.filter(run=dialogue))
