"""One real Label Studio for the whole test session (started by scripts/labelstudio, ~40 s the first time).

A Label Studio that cannot be installed or started fails the tests that need it, with its log: never a skip.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.labelstudio_server import LabelStudioServer, LabelStudioStartError


@pytest.fixture(scope="session")
def label_studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabelStudioServer]:
    server = LabelStudioServer(data_dir=tmp_path_factory.mktemp("labelstudio") / "data")
    try:
        server.start()
    except (LabelStudioStartError, OSError) as exc:
        pytest.fail(f"Label Studio could not be started for the integration tests:\n{exc}")
    yield server
    server.stop()
