"""python manage.py study_report: the report as HTML, JSON or a zip of CSV tables; exit code 2 on bad input."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from stats import reports
from stats.report_model import to_json

ROOT = Path(__file__).resolve().parents[2]


def _manage(*args: str) -> subprocess.CompletedProcess[str]:
    """``manage.py`` in another process, against this test session's database."""
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        url = f"sqlite:///{settings['NAME']}"
    else:
        url = f"postgres://{settings['USER'] or ''}@{settings['HOST'] or '127.0.0.1'}:{settings['PORT'] or 5432}/{settings['NAME']}"
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "hvae_site.test_settings"}
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_json_is_the_report(validated_study, tmp_path):
    out = tmp_path / "report.json"
    call_command("study_report", study="validated", format="json", out=str(out), stdout=io.StringIO())
    written = json.loads(out.read_text())
    assert written == to_json(reports.cached_report(validated_study.study))
    assert written["human"]["gold_screened"]["n_raters"] == 5


def test_csv_is_a_zip_of_every_table_with_the_report_numbers(validated_study, tmp_path):
    out = tmp_path / "report.zip"
    call_command(
        "study_report", study=str(validated_study.study.pk), format="csv", out=str(out), stdout=io.StringIO()
    )
    typed = reports.cached_report(validated_study.study)
    with zipfile.ZipFile(out) as archive:
        assert set(archive.namelist()) == {f"{name}.csv" for name in reports.report_tables(typed)}
        agreement = pd.read_csv(archive.open("agreement.csv"))
    rows = agreement[
        (agreement["statistic"] == "alpha_categories_among_raters")
        & (agreement["value"] == "pooled")
        & (agreement["exclusion"] == "raters passing the gold screen")
        & (agreement["section"] == "human")
    ]
    expected = typed.human.gold_screened.pooled.inter_rater.categories.value
    assert rows["estimate"].tolist() == [pytest.approx(expected)]


def test_html_is_the_study_page(validated_study, tmp_path):
    out = tmp_path / "report.html"
    stdout = io.StringIO()
    call_command("study_report", study="validated", format="html", out=str(out), stdout=stdout)
    page = out.read_text()
    kappa = reports.cached_report(validated_study.study).human.gold_screened.pooled.vs_majority.kappa
    assert f"{kappa.value:.2f} [" in page
    assert "<svg" in page
    assert "Wrote the html report of study 'validated'" in stdout.getvalue()


def test_include_flagged_switch(validated_study, tmp_path):
    out = tmp_path / "report.json"
    call_command(
        "study_report",
        study="validated",
        format="json",
        out=str(out),
        include_flagged=True,
        stdout=io.StringIO(),
    )
    assert json.loads(out.read_text())["human"]["selected"] == "all_raters"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"study": "no-such-study", "format": "json"}, "no study named or numbered 'no-such-study'"),
        ({"study": "validated", "format": "pdf"}, "unknown format 'pdf'"),
    ],
)
def test_bad_input_is_a_clear_error_with_exit_code_2(validated_study, tmp_path, options, message):
    with pytest.raises(CommandError, match=message) as error:
        call_command("study_report", out=str(tmp_path / "x"), stdout=io.StringIO(), **options)
    assert error.value.returncode == 2


def test_an_output_folder_that_does_not_exist_is_exit_code_2(validated_study, tmp_path):
    with pytest.raises(CommandError, match="does not exist") as error:
        call_command(
            "study_report", study="validated", out=str(tmp_path / "missing" / "r.json"), format="json"
        )
    assert error.value.returncode == 2
    with pytest.raises(CommandError, match="is a folder") as folder:
        call_command("study_report", study="validated", out=str(tmp_path), format="json")
    assert folder.value.returncode == 2


@pytest.mark.django_db(transaction=True)
def test_unknown_study_exits_with_code_2_from_the_shell(tmp_path):
    process = _manage("study_report", "--study", "no-such-study", "--out", str(tmp_path / "r.html"))
    assert process.returncode == 2, process.stdout + process.stderr
    assert "no study named or numbered 'no-such-study'" in process.stderr
    assert "Traceback" not in process.stderr
    missing = _manage("study_report", "--out", str(tmp_path / "r.html"))
    assert missing.returncode == 2
    assert "--study" in missing.stderr
