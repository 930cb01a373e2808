"""Migrations apply forwards and backwards on the test database (PostgreSQL in CI), with nothing missing."""

from __future__ import annotations

import os
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor


def test_ci_runs_on_postgresql(db) -> None:
    if os.environ.get("CI") == "true":
        assert connection.vendor == "postgresql", "CI must run the suite on PostgreSQL"
    assert connection.vendor in {"postgresql", "sqlite"}


def test_models_and_migrations_agree(db) -> None:
    out = StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=out)
    assert "No changes detected" in out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_migrations_roll_back_and_forward() -> None:
    executor = MigrationExecutor(connection)
    apps = ["evaluation", "annotation", "stats"]
    targets = [key for key in executor.loader.graph.leaf_nodes() if key[0] in apps]
    assert targets, "the project's apps have migrations"
    call_command("migrate", "evaluation", "zero", verbosity=0)
    with connection.cursor() as cursor:
        tables = connection.introspection.table_names(cursor)
    assert "evaluation_trial" not in tables
    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        tables = connection.introspection.table_names(cursor)
    assert {"evaluation_study", "evaluation_trial", "evaluation_itemresponse", "evaluation_llmcall"} <= set(
        tables
    )
