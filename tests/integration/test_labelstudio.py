"""The Label Studio adapter against a real Label Studio 1.23 started by scripts/labelstudio.

A server that cannot start fails the tests (with its log), it never skips them. No Django database is used.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from annotation.labelstudio import WEBHOOK_ACTIONS, LabelStudioClient, LabelStudioError
from tests.integration.labelstudio_server import LabelStudioServer

pytestmark = pytest.mark.integration

LABEL_CONFIG = """<View>
  <Text name="transcript" value="$text"/>
  <Choices name="category" toName="transcript" choice="single">
    <Choice value="altruistic"/><Choice value="prosocial"/>
    <Choice value="individualistic"/><Choice value="competitive"/>
  </Choices>
</View>"""


def choice(value: str) -> list[dict[str, Any]]:
    return [
        {"from_name": "category", "to_name": "transcript", "type": "choices", "value": {"choices": [value]}}
    ]


@pytest.fixture
def client(label_studio: LabelStudioServer) -> Iterator[LabelStudioClient]:
    with LabelStudioClient(label_studio.url, label_studio.api_key) as ls:
        yield ls


def admin_get(server: LabelStudioServer, path: str, **params: Any) -> Any:
    response = httpx.get(
        server.url + path, params=params, headers={"Authorization": f"Token {server.api_key}"}, timeout=30
    )
    response.raise_for_status()
    return response.json()


def new_project(client: LabelStudioClient, key: str, overlap: int = 1) -> int:
    return client.ensure_project(
        title=f"test {key}", label_config=LABEL_CONFIG, maximum_annotations=overlap, external_key=key
    )


def tasks(keys: list[str]) -> list[dict[str, Any]]:
    return [{"data": {"text": f"transcript {key}", "hvae_key": key}} for key in keys]


def test_health(client: LabelStudioClient) -> None:
    assert client.health() is True


def test_ensure_project_twice_returns_the_same_project_and_updates_it(
    client: LabelStudioClient, label_studio: LabelStudioServer
) -> None:
    first = client.ensure_project(
        title="HVAE batch 1", label_config=LABEL_CONFIG, description="Study x", external_key="batch-1"
    )
    again = client.ensure_project(
        title="HVAE batch 1",
        label_config=LABEL_CONFIG,
        description="Study x",
        maximum_annotations=3,
        external_key="batch-1",
    )
    other = client.ensure_project(title="HVAE batch 10", label_config=LABEL_CONFIG, external_key="batch-10")

    assert again == first
    assert other != first
    project = admin_get(label_studio, f"/api/projects/{first}/")
    assert project["maximum_annotations"] == 3
    assert project["description"] == "Study x\n\n[hvae:batch-1]"
    titles = [p["title"] for p in admin_get(label_studio, "/api/projects/", page_size=100)["results"]]
    assert titles.count("HVAE batch 1") == 1


def test_import_tasks_is_idempotent(client: LabelStudioClient, label_studio: LabelStudioServer) -> None:
    project_id = new_project(client, "import")
    keys = [f"k{i:03d}" for i in range(130)]  # more than one page of the task list

    first = client.import_tasks(project_id, tasks(keys))
    second = client.import_tasks(project_id, tasks(keys))
    grown = client.import_tasks(project_id, tasks([*keys, "extra-1", "extra-2"]))

    assert (first.created, first.existing) == (130, 0)
    assert (second.created, second.existing) == (0, 130)
    assert (grown.created, grown.existing) == (2, 130)
    assert second.task_ids == first.task_ids
    assert len(set(grown.task_ids.values())) == 132
    assert admin_get(label_studio, "/api/tasks/", project=project_id, page_size=1)["total"] == 132


def test_an_import_of_several_chunks_maps_every_key_to_its_own_task(label_studio: LabelStudioServer) -> None:
    keys = [f"c{i:02d}" for i in range(10)]  # two and a half chunks of 4, and listed in pages of 3
    with LabelStudioClient(label_studio.url, label_studio.api_key, import_chunk=4, page_size=3) as ls:
        project_id = new_project(ls, "chunks")
        first = ls.import_tasks(project_id, tasks(keys))
        grown = ls.import_tasks(project_id, tasks([*keys, "c10"]))

    assert (first.created, first.existing) == (10, 0)
    assert (grown.created, grown.existing) == (1, 10)
    listed = admin_get(label_studio, "/api/tasks/", project=project_id, page_size=100)["tasks"]
    assert {task["data"]["hvae_key"]: task["id"] for task in listed} == grown.task_ids
    assert {key: grown.task_ids[key] for key in keys} == first.task_ids
    with pytest.raises(ValueError, match="import_chunk and page_size must be at least 1"):
        LabelStudioClient(label_studio.url, label_studio.api_key, import_chunk=0)


def test_the_listing_holds_skipped_tasks_and_only_annotated_ones(
    client: LabelStudioClient, label_studio: LabelStudioServer
) -> None:
    project_id = new_project(client, "listing", overlap=2)
    ids = client.import_tasks(project_id, tasks(["l1", "l2", "l3"])).task_ids
    done = client.create_annotation(ids["l1"], choice("prosocial"), lead_time=4)
    skipped = httpx.post(
        f"{label_studio.url}/api/tasks/{ids['l2']}/annotations/",
        json={"result": [], "was_cancelled": True},
        headers={"Authorization": f"Token {label_studio.api_key}"},
        timeout=30,
    )
    skipped.raise_for_status()

    listing = client.annotation_listing(project_id, None)

    assert [(r.id, r.task_id, r.task_key, r.was_cancelled) for r in listing.records] == [
        (done, ids["l1"], "l1", False),
        (skipped.json()["id"], ids["l2"], "l2", True),
    ]
    assert listing.records[0].result == choice("prosocial")
    assert listing.records[0].lead_time == 4
    assert listing.unreadable == []
    assert admin_get(label_studio, f"/api/projects/{project_id}/exports/") == []  # the snapshot is deleted


def test_import_tasks_rejects_tasks_without_a_key(client: LabelStudioClient) -> None:
    project_id = new_project(client, "import-bad")
    with pytest.raises(ValueError, match="hvae_key"):
        client.import_tasks(project_id, [{"data": {"text": "no key"}}])


class _Receiver(BaseHTTPRequestHandler):
    received: list[tuple[dict[str, str], dict[str, Any]]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.received.append((dict(self.headers), json.loads(body or b"{}")))
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def webhook_receiver() -> Iterator[tuple[str, list[tuple[dict[str, str], dict[str, Any]]]]]:
    received: list[tuple[dict[str, str], dict[str, Any]]] = []
    handler = type("Receiver", (_Receiver,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/annotation/webhook", received
    server.shutdown()
    server.server_close()


def test_webhook_registration_is_idempotent_and_delivers_the_secret(
    client: LabelStudioClient, label_studio: LabelStudioServer, webhook_receiver: tuple[str, list[Any]]
) -> None:
    url, received = webhook_receiver
    project_id = new_project(client, "webhook")
    task_id = client.import_tasks(project_id, tasks(["w1"])).task_ids["w1"]

    first = client.register_webhook(project_id, url, secret="s3cret")
    again = client.register_webhook(project_id, url, secret="s3cret")
    rotated = client.register_webhook(project_id, url, secret="rotated")

    assert first == again == rotated
    hooks = [h for h in admin_get(label_studio, "/api/webhooks/", project=project_id) if h["url"] == url]
    assert len(hooks) == 1
    assert sorted(hooks[0]["actions"]) == sorted(WEBHOOK_ACTIONS)
    assert hooks[0]["headers"] == {"X-HVAE-Webhook-Secret": "rotated"}

    annotation_id = client.create_annotation(task_id, choice("prosocial"))
    deadline = time.monotonic() + 15
    while not received and time.monotonic() < deadline:
        time.sleep(0.1)
    assert received, "Label Studio did not deliver the ANNOTATION_CREATED webhook to 127.0.0.1"
    headers, payload = received[0]
    assert headers.get("X-HVAE-Webhook-Secret") == "rotated"
    assert payload["action"] == "ANNOTATION_CREATED"
    assert payload["annotation"]["id"] == annotation_id
    assert payload["task"]["data"]["hvae_key"] == "w1"


def test_two_raters_annotations_are_attributed_to_each(client: LabelStudioClient) -> None:
    project_id = new_project(client, "raters", overlap=2)
    task_id = client.import_tasks(project_id, tasks(["r1"])).task_ids["r1"]
    alice = client.ensure_user(
        email="Alice@Raters.example", username="alice", first_name="Alice", password="alice-password-1"
    )
    bob = client.ensure_user(email="bob@raters.example", username="bob", password="bob-password-22")
    alice_again = client.ensure_user(
        email="alice@raters.example", username="alice", first_name="Alice", password="alice-password-1"
    )

    assert alice.id == alice_again.id
    assert alice.token
    assert bob.token
    assert alice.token != bob.token
    assert alice_again.token == alice.token
    assert alice.email == "alice@raters.example"

    before = datetime.now(UTC) - timedelta(seconds=5)
    first = client.create_annotation(task_id, choice("prosocial"), as_user_token=alice.token, lead_time=12.5)
    second = client.create_annotation(task_id, choice("competitive"), as_user_token=bob.token, lead_time=3)
    records = client.annotations_since(project_id, None)

    assert [r.id for r in records] == [first, second]
    assert {r.completed_by for r in records} == {alice.id, bob.id}
    by_id = {r.id: r for r in records}
    assert by_id[first].completed_by == alice.id
    assert by_id[first].lead_time == 12.5
    assert by_id[first].result == choice("prosocial")
    assert by_id[second].task_key == "r1"
    assert not by_id[second].was_cancelled
    assert [r.id for r in client.annotations_since(project_id, before)] == [first, second]
    assert client.annotations_since(project_id, datetime.now(UTC) + timedelta(minutes=5)) == []


def test_ensure_user_without_password_and_wrong_password(client: LabelStudioClient) -> None:
    plain = client.ensure_user(email="carol@raters.example", username="carol", last_name="C")
    again = client.ensure_user(email="carol@raters.example", username="carol", last_name="C")
    assert plain.id == again.id
    assert plain.token is None

    client.ensure_user(email="dave@raters.example", username="dave", password="dave-password-1")
    with pytest.raises(LabelStudioError, match="refused /user/login/"):
        client.ensure_user(email="dave@raters.example", username="dave", password="not-daves-password")
    with pytest.raises(LabelStudioError, match="8–128 characters"):
        client.ensure_user(email="erin@raters.example", username="erin", password="short")


def test_unreachable_label_studio_raises_a_clear_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    ls = LabelStudioClient(closed, "any-key", timeout=5)

    assert ls.health() is False
    with pytest.raises(LabelStudioError, match=f"Label Studio at {closed} is not reachable"):
        ls.ensure_project(title="nope", label_config=LABEL_CONFIG, external_key="nope")


def test_a_wrong_api_key_says_so(label_studio: LabelStudioServer) -> None:
    with (
        LabelStudioClient(label_studio.url, "wrong-key") as ls,
        pytest.raises(LabelStudioError, match="refused the credentials"),
    ):
        ls.annotations_since(1, None)


def test_start_refuses_a_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        busy = LabelStudioServer(data_dir=tmp_path / "data", port=sock.getsockname()[1])
        result = busy.run("start", "--port", str(busy.port))

    assert result.returncode == 2
    assert f"port {busy.port} on 127.0.0.1 is already in use" in result.stderr


def test_restart_keeps_projects_tasks_and_annotations(
    client: LabelStudioClient, label_studio: LabelStudioServer
) -> None:
    project_id = new_project(client, "restart")
    task_id = client.import_tasks(project_id, tasks(["x1", "x2"])).task_ids["x1"]
    annotation_id = client.create_annotation(task_id, choice("altruistic"), lead_time=1.5)

    label_studio.stop()
    assert client.health() is False
    label_studio.start()

    with LabelStudioClient(label_studio.url, label_studio.api_key) as after:
        assert after.health() is True
        assert new_project(after, "restart") == project_id
        assert after.import_tasks(project_id, tasks(["x1", "x2"])).created == 0
        records = after.annotations_since(project_id, None)
    assert [(r.id, r.task_id, r.lead_time) for r in records] == [(annotation_id, task_id, 1.5)]
    status = label_studio.run("status")
    assert status.returncode == 0
    assert f"running: http://127.0.0.1:{label_studio.port}" in status.stdout
