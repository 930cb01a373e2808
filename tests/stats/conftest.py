from __future__ import annotations

import pytest
from django.core.cache import cache

from tests.stats.builders import SimulatedStudy, add_judgments, build_study


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def validated_study(db, user) -> SimulatedStudy:
    """96 scored trials (2 models x 4 values x 2 strategies x 6 trials), every configuration run twice, and
    one batch: 40 transcripts judged by 3 of 6 raters, 4 gold transcripts judged by all, 1 rater flagged."""
    simulated = build_study("validated", trials_per_run=6, runs_per_cell=2, seed=3, owner=user)
    add_judgments(
        simulated,
        n_transcripts=40,
        n_raters=6,
        overlap=3,
        n_gold=4,
        flagged_raters=1,
        label_accuracy=0.6,
        seed=5,
    )
    return simulated


@pytest.fixture
def demo_like_study(db, user) -> SimulatedStudy:
    """Evaluation data but no judgments, like the demo study before any batch."""
    return build_study("demo-like", trials_per_run=4, seed=7, owner=user)
