"""The one module that talks to Label Studio (1.23.x): a small typed adapter over its REST API.

Everything returned is a plain dataclass, dict or int; every failure is a LabelStudioError whose message a
researcher can act on. Calls are idempotent where the service re-runs them (projects, tasks, webhooks, users).

It speaks the REST API with httpx rather than through ``label_studio_sdk``: SDK 2.1.2 (the one Label Studio
1.23.2 ships) requires opencv-python-headless < 4.13 and so numpy < 2.3, which the service's own numpy pin
excludes; the older 2.0 line would install, but predates the server and brings OpenCV, NLTK and code
generators into the service for a dozen HTTP calls; and the two things raters need, an account that can sign
in and that account's token, are HTML forms the SDK does not cover. The endpoints used are the documented
ones the SDK wraps.
"""

from __future__ import annotations

import html
import logging
import math
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import httpx

from hvae_site import outbound

logger = logging.getLogger(__name__)

WEBHOOK_ACTIONS = ("ANNOTATION_CREATED", "ANNOTATIONS_CREATED", "ANNOTATION_UPDATED", "ANNOTATIONS_DELETED")
# Tasks per import request and per page of the task listing. Label Studio answers an import with the new
# tasks' ids (in the order given), so a push never lists the project again; bigger chunks and pages mean fewer
# round trips, at a few MB of JSON each (benchmarks/labelstudio.py measures them).
IMPORT_CHUNK = 1000
PAGE_SIZE = 500
SERVING_REQUESTS = 4
"""Task-overlap edits in flight at once when a batch's serving order is set up."""
# Label Studio writes a whole export before it answers: a large project needs a long read timeout.
EXPORT_READ_TIMEOUT = 600.0
_FORM_ERRORS = re.compile(r'class="field_errors">(.*?)</ul>', re.DOTALL)
_LIST_ITEM = re.compile(r"<li>(.*?)</li>", re.DOTALL)


class LabelStudioError(Exception):
    """Label Studio is unreachable or refused a request; the message says which and why."""


class PayloadError(ValueError):
    """A webhook payload or listed annotation that does not have the shape Label Studio sends, or whose values
    do not fit the service's columns; the message names the field. Nothing of it is stored."""


@dataclass(frozen=True)
class ImportResult:
    created: int
    existing: int
    task_ids: dict[str, int]  # our key -> Label Studio task id, for every task passed in


@dataclass(frozen=True)
class AnnotationRecord:
    """One Label Studio annotation, checked: what a webhook or the annotation listing says about it.

    ``task_key`` is our key from the task's data (None on a task that is not ours); ``result`` is the regions
    as Label Studio sent them, every string free of NUL and every number finite, so they can be stored as
    they are.
    """

    id: int
    task_id: int | None
    task_key: str | None
    completed_by: int | None
    result: list[dict[str, Any]]
    lead_time: float | None
    created_at: datetime | None
    updated_at: datetime | None
    was_cancelled: bool


WebhookAnnotation = AnnotationRecord


@dataclass(frozen=True)
class WebhookEvent:
    """One webhook: the annotations it created or updated, or the ids of those it deleted. Other actions
    (projects, tasks...) come back with neither."""

    action: str
    annotations: tuple[AnnotationRecord, ...] = ()
    deleted_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class UnreadableAnnotation:
    """An annotation in Label Studio's listing that does not parse; its id when that much could be read."""

    id: int | None
    reason: str


@dataclass(frozen=True)
class AnnotationListing:
    records: list[AnnotationRecord]
    unreadable: list[UnreadableAnnotation]


@dataclass(frozen=True)
class BrowserSession:
    """Label Studio's session cookie for a signed-in account, to be handed to that person's browser."""

    cookie_name: str
    cookie_value: str
    user_id: int


@dataclass(frozen=True)
class RaterAccount:
    id: int
    email: str
    username: str
    token: str | None  # the rater's own API token; known only when ensure_user was given the password


class LabelStudioClient:
    def __init__(
        self,
        url: str,
        api_key: str,
        *,
        timeout: float = 30,
        import_chunk: int = IMPORT_CHUNK,
        page_size: int = PAGE_SIZE,
    ) -> None:
        if import_chunk < 1 or page_size < 1:
            raise ValueError(
                f"import_chunk and page_size must be at least 1, got {import_chunk}, {page_size}"
            )
        self.url = url.rstrip("/")
        self._timeout = timeout
        self.import_chunk = import_chunk
        self.page_size = page_size
        # Every connection goes through the outbound check: allowed hosts only, decided on the resolved address.
        self._http = httpx.Client(
            base_url=self.url, headers=_auth(api_key), timeout=timeout, transport=outbound.GuardedTransport()
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> LabelStudioClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def health(self) -> bool:
        try:
            response = self._http.get("/health", timeout=min(self._timeout, 5.0))
            return response.status_code == 200 and response.json().get("status") == "UP"
        except (httpx.HTTPError, ValueError, AttributeError):
            return False

    # --- projects and tasks -------------------------------------------------------------------------

    def ensure_project(
        self,
        *,
        title: str,
        label_config: str,
        description: str = "",
        maximum_annotations: int = 1,
        external_key: str,
    ) -> int:
        """The project whose description ends with our marker line, created or brought up to date."""
        if not external_key or any(ch in external_key for ch in "]\n"):
            raise ValueError(f"external_key must be non-empty, without ']' or newlines: {external_key!r}")
        marker = f"[hvae:{external_key}]"
        wanted: dict[str, Any] = {
            "title": title,
            "label_config": label_config,
            "description": f"{description}\n\n{marker}" if description else marker,
            "maximum_annotations": maximum_annotations,
        }
        for project in self._paged("/api/projects/"):
            lines = (project.get("description") or "").splitlines()
            if lines and lines[-1] == marker:
                changes = {field: value for field, value in wanted.items() if project.get(field) != value}
                if changes:
                    self._request("PATCH", f"/api/projects/{project['id']}/", json=changes)
                return int(project["id"])
        return int(self._request("POST", "/api/projects/", json=wanted)["id"])

    def import_tasks(
        self, project_id: int, tasks: Sequence[dict[str, Any]], *, key_field: str = "hvae_key"
    ) -> ImportResult:
        """Import the tasks whose data[key_field] is not in the project yet; re-running never duplicates."""
        by_key: dict[str, dict[str, Any]] = {}
        for task in tasks:
            key = (task.get("data") or {}).get(key_field)
            if not isinstance(key, str) or not key:
                raise ValueError(f"every task needs a non-empty string in data[{key_field!r}]: {task!r:.200}")
            if key in by_key:
                raise ValueError(f"task key {key!r} appears twice")
            by_key[key] = task
        known = self._task_ids(project_id, key_field)
        missing = [(key, task) for key, task in by_key.items() if key not in known]
        answered_all = True
        for start in range(0, len(missing), self.import_chunk):
            chunk = missing[start : start + self.import_chunk]
            body = self._request(
                "POST",
                f"/api/projects/{project_id}/import",
                params={"return_task_ids": "true"},
                json=[task for _, task in chunk],
            )
            ids = body.get("task_ids") if isinstance(body, dict) else None
            if isinstance(ids, list) and len(ids) == len(chunk) and all(isinstance(i, int) for i in ids):
                known.update((key, task_id) for (key, _), task_id in zip(chunk, ids, strict=True))
            else:
                answered_all = False  # an answer without the ids: the listing below says where they went
        if not answered_all:
            known = self._task_ids(project_id, key_field)
        lost = [key for key in by_key if key not in known]
        if lost:
            raise LabelStudioError(
                f"Label Studio accepted the import into project {project_id} but {len(lost)} tasks are missing "
                f"(first: {lost[0]!r})."
            )
        return ImportResult(
            created=len(missing),
            existing=len(by_key) - len(missing),
            task_ids={key: known[key] for key in by_key},
        )

    def register_webhook(
        self, project_id: int, url: str, *, secret: str, header: str = "X-HVAE-Webhook-Secret"
    ) -> int:
        """One webhook per (project, url), carrying the secret in a header; updated in place when it differs."""
        wanted: dict[str, Any] = {
            "project": project_id,
            "url": url,
            "send_payload": True,
            "send_for_all_actions": False,
            "headers": {header: secret},
            "is_active": True,
            "actions": list(WEBHOOK_ACTIONS),
        }
        for hook in self._request("GET", "/api/webhooks/", params={"project": project_id}):
            if hook.get("project") == project_id and hook.get("url") == url:
                current = {**hook, "actions": sorted(hook.get("actions") or [])}
                if any(
                    current.get(k) != v for k, v in {**wanted, "actions": sorted(WEBHOOK_ACTIONS)}.items()
                ):
                    # A PATCH without "actions" empties them: always send the whole definition.
                    self._request("PATCH", f"/api/webhooks/{hook['id']}/", json=wanted)
                return int(hook["id"])
        return int(self._request("POST", "/api/webhooks/", json=wanted)["id"])

    def annotations_since(self, project_id: int, since: datetime | None) -> list[AnnotationRecord]:
        """Annotations (skips included) updated at or after `since` (all when None), oldest first; those that
        do not parse are left out (``annotation_listing`` names them)."""
        return self.annotation_listing(project_id, since).records

    def annotation_listing(self, project_id: int, since: datetime | None) -> AnnotationListing:
        """Every annotation of the project updated at or after `since`, parsed as a webhook's are.

        Read through an export snapshot of the tasks with at least one annotation (skips included), each with
        its data and annotations, deleted once read: about twice as fast as the data manager's task pages with
        all fields (10,000 tasks: benchmarks/labelstudio.py)."""
        if since is not None and since.tzinfo is None:
            raise ValueError("since must be timezone-aware")
        tasks = self._exported_tasks(project_id)
        if not isinstance(tasks, list) or not all(isinstance(task, Mapping) for task in tasks):
            raise LabelStudioError(
                f"Label Studio's export of project {project_id} is not a list of tasks: {tasks!r:.200}"
            )
        records, unreadable = [], []
        for task in tasks:
            for raw in task.get("annotations") or []:
                try:
                    record = parse_annotation(raw, task)
                except PayloadError as exc:
                    raw_id = raw.get("id") if isinstance(raw, Mapping) else None
                    unreadable.append(UnreadableAnnotation(id=_id_or_none(raw_id), reason=str(exc)))
                    continue
                if since is None or record.updated_at is None or record.updated_at >= since:
                    records.append(record)
        records.sort(key=lambda r: (r.updated_at or datetime.min.replace(tzinfo=UTC), r.id))
        return AnnotationListing(records=records, unreadable=unreadable)

    def create_annotation(
        self,
        task_id: int,
        result: list[dict[str, Any]],
        *,
        as_user_token: str | None = None,
        lead_time: float | None = None,
    ) -> int:
        body: dict[str, Any] = {"result": result}
        if lead_time is not None:
            body["lead_time"] = lead_time
        path = f"/api/tasks/{task_id}/annotations/"
        return int(self._request("POST", path, json=body, token=as_user_token)["id"])

    # --- raters -------------------------------------------------------------------------------------

    def ensure_user(
        self,
        *,
        email: str,
        username: str,
        first_name: str = "",
        last_name: str = "",
        password: str | None = None,
        want_token: bool = True,
    ) -> RaterAccount:
        """A rater account, created once. With a password (8-128 characters) the account is made through the
        organisation's invite link and can sign in to Label Studio's web UI; with ``want_token`` it is signed
        in to once (which also proves the password) and its API token is returned. Without a password it is
        created by the admin API and cannot sign in."""
        email = email.strip().lower()
        user = self._find_user(email)
        if user is None:
            if password is not None:
                invite = self._request("GET", "/api/invite")["token"]
                self._browser_form(
                    "/user/signup/", {"email": email, "password": password}, token=invite
                ).close()
            else:
                self._request("POST", "/api/users/", json={"email": email, "username": username})
            user = self._find_user(email)
            if user is None:
                raise LabelStudioError(f"Label Studio did not create the account {email}.")
        names = {"username": username, "first_name": first_name, "last_name": last_name}
        changes = {field: value for field, value in names.items() if user.get(field) != value}
        if changes:
            self._request("PATCH", f"/api/users/{user['id']}/", json=changes)
        token = None
        if password is not None and want_token:
            session = self._browser_form("/user/login/", {"email": email, "password": password})
            try:
                token = str(self._send(session, "GET", "/api/current-user/token").json()["token"])
            finally:
                session.close()
        return RaterAccount(id=int(user["id"]), email=email, username=username, token=token)

    def sign_in(self, *, email: str, password: str) -> BrowserSession:
        """Sign the account in through Label Studio's own login form, as a browser would, and return the
        session cookie Label Studio set: the service hands it to the rater's browser, so the password never
        leaves the server. The cookie is checked to open a session for this very account."""
        session = self._browser_form("/user/login/", {"email": email, "password": password})
        try:
            value = session.cookies.get(SESSION_COOKIE)
            if not value:
                raise LabelStudioError(
                    f"Label Studio signed {email} in but set no {SESSION_COOKIE!r} cookie; "
                    "is this Label Studio 1.23?"
                )
            me = self._send(session, "GET", "/api/current-user/whoami").json()
        finally:
            session.close()
        if not isinstance(me, dict) or str(me.get("email", "")).lower() != email.strip().lower():
            raise LabelStudioError(f"Label Studio's session for {email} belongs to another account.")
        return BrowserSession(cookie_name=SESSION_COOKIE, cookie_value=value, user_id=int(me["id"]))

    # --- plumbing -----------------------------------------------------------------------------------

    def _find_user(self, email: str) -> dict[str, Any] | None:
        users = self._request("GET", "/api/users/")
        return next((u for u in users if str(u.get("email", "")).lower() == email), None)

    def _browser_form(self, path: str, form: dict[str, str], *, token: str | None = None) -> httpx.Client:
        """Posts one of Label Studio's HTML forms as a browser would; returns the signed-in session."""
        session = httpx.Client(
            base_url=self.url, timeout=self._timeout, transport=outbound.GuardedTransport()
        )
        params = {"token": token} if token else {}
        try:
            self._send(session, "GET", path, params=params)
            data = {**form, "csrfmiddlewaretoken": session.cookies.get("csrftoken", "")}
            response = session.post(path, params=params, data=data, headers={"Referer": self.url + path})
        except httpx.TransportError as exc:
            session.close()
            raise LabelStudioError(f"Label Studio at {self.url} is not reachable: {exc}") from exc
        if response.status_code != 302:
            session.close()
            found = [_LIST_ITEM.findall(block) for block in _FORM_ERRORS.findall(response.text)]
            reasons = "; ".join(html.unescape(item.strip()) for items in found for item in items)
            raise LabelStudioError(
                f"Label Studio refused {path} for {form.get('email')}: {reasons or 'wrong email or password'}"
            )
        return session

    def _exported_tasks(self, project_id: int) -> Any:
        """The annotated tasks of the project as Label Studio exports them (JSON). The snapshot is made,
        downloaded and deleted: Label Studio would otherwise keep a copy of every sync's export on its disk."""
        base = f"/api/projects/{project_id}/exports"
        slow = httpx.Timeout(self._timeout, read=max(self._timeout, EXPORT_READ_TIMEOUT))
        snapshot = self._request(
            "POST",
            f"{base}/",
            json={
                "title": "hvae sync",
                "task_filter_options": {"only_with_annotations": True},
                "serialization_options": {
                    "drafts": {"only_id": True},
                    "predictions": {"only_id": True},
                    "annotations__completed_by": {"only_id": True},
                },
            },
            timeout=slow,
        )
        if not isinstance(snapshot, dict) or not isinstance(snapshot.get("id"), int):
            raise LabelStudioError(
                f"Label Studio did not make an export of project {project_id}: {snapshot!r:.200}"
            )
        export_id = snapshot["id"]
        try:
            deadline = time.monotonic() + EXPORT_READ_TIMEOUT
            while (status := snapshot.get("status")) != "completed":
                if status == "failed" or time.monotonic() > deadline:
                    raise LabelStudioError(
                        f"Label Studio's export {export_id} of project {project_id} did not complete ({status})."
                    )
                time.sleep(0.5)
                snapshot = self._request("GET", f"{base}/{export_id}")
            return self._request(
                "GET", f"{base}/{export_id}/download", params={"exportType": "JSON"}, timeout=slow
            )
        finally:
            try:
                self._request("DELETE", f"{base}/{export_id}")
            except LabelStudioError as exc:
                logger.warning("export %s of project %s left in Label Studio: %s", export_id, project_id, exc)

    def _task_ids(self, project_id: int, key_field: str) -> dict[str, int]:
        ids: dict[str, int] = {}
        for task in self._tasks(project_id):
            key = (task.get("data") or {}).get(key_field)
            if isinstance(key, str):
                ids.setdefault(key, int(task["id"]))
        return ids

    def _tasks(self, project_id: int) -> Iterator[dict[str, Any]]:
        """Every task of the project (without annotations), in id order (the data manager's default), page
        by page."""
        page, seen = 1, 0
        while True:
            params: dict[str, Any] = {"project": project_id, "page": page, "page_size": self.page_size}
            body = self._request("GET", "/api/tasks/", params=params)
            tasks = body.get("tasks") or []
            yield from tasks
            seen += len(tasks)
            if not tasks or seen >= int(body.get("total") or 0):
                return
            page += 1

    def _paged(self, path: str) -> Iterator[dict[str, Any]]:
        page = 1
        while True:
            body = self._request("GET", path, params={"page": page, "page_size": self.page_size})
            yield from body.get("results") or []
            if not body.get("next"):
                return
            page += 1

    def _request(self, method: str, path: str, *, token: str | None = None, **kwargs: Any) -> Any:
        headers = _auth(token) if token else None
        response = self._send(self._http, method, path, headers=headers, **kwargs)
        return response.json() if response.content else None

    def _send(self, http: httpx.Client, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise LabelStudioError(f"Label Studio at {self.url} is not reachable: {exc}") from exc
        if response.status_code >= 400:
            try:
                body = response.json()
                detail = body.get("validation_errors") or body.get("detail") or body
            except (ValueError, AttributeError):
                detail = response.text[:300]
            if response.status_code in (401, 403):
                raise LabelStudioError(
                    f"Label Studio at {self.url} refused the credentials for {method} {path} "
                    f"(HTTP {response.status_code}): {detail}. Check LABEL_STUDIO_API_KEY."
                )
            raise LabelStudioError(
                f"Label Studio at {self.url} answered HTTP {response.status_code} to {method} {path}: {detail}"
            )
        return response

    def set_serving(
        self, project_id: int, *, project_settings: Mapping[str, Any], task_overlaps: Mapping[int, int]
    ) -> int:
        """Bring the project's task-serving settings (e.g. ``sampling``) and each listed task's own ``overlap``
        (annotations it takes before it is labeled) to the wanted values; returns how many tasks changed.
        Idempotent: only what differs is sent."""
        project = self._request("GET", f"/api/projects/{project_id}/")
        changes = {name: value for name, value in project_settings.items() if project.get(name) != value}
        if changes:
            self._request("PATCH", f"/api/projects/{project_id}/", json=changes)
        if not task_overlaps:
            return 0
        current = {int(task["id"]): task.get("overlap") for task in self._tasks(project_id)}
        wanted = [(task_id, n) for task_id, n in task_overlaps.items() if current.get(task_id) != n]

        def send(change: tuple[int, int]) -> None:
            self._request("PATCH", f"/api/tasks/{change[0]}/", json={"overlap": change[1]})

        # Label Studio edits a task's overlap one request at a time: a few requests in flight at once
        with ThreadPoolExecutor(max_workers=SERVING_REQUESTS) as pool:
            list(pool.map(send, wanted))
        return len(wanted)


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Token {token}"}


# --- webhook payloads and listed annotations ---------------------------------------------------------------
#
# Label Studio 1.23 sends (webhooks) and lists (/api/tasks?fields=all) annotations as JSON objects. Everything
# the service keeps of one is checked here, so a payload either becomes records that fit the columns or is
# refused whole with a reason: ids are positive 32-bit integers (Label Studio's ids are Django AutoFields, and
# so are the columns that keep them), strings hold no NUL (PostgreSQL cannot store one), numbers are finite.

MAX_ID = 2**31 - 1
MAX_LEAD_TIME = 10**7  # seconds (about 116 days): longer is not a time spent on one task
MAX_KEY_LENGTH = 100  # AnnotationTask.key
MAX_TEXT_LENGTH = 20_000  # one string in a result, a rater's comment included
MAX_REGIONS = 1_000
MAX_ANNOTATIONS = 10_000
MAX_DEPTH = 12
SESSION_COOKIE = "sessionid"  # Label Studio keeps Django's default session cookie name (not configurable)
KEY_FIELD = "hvae_key"
CREATE_OR_UPDATE_ACTIONS = frozenset({"ANNOTATION_CREATED", "ANNOTATION_UPDATED", "ANNOTATIONS_CREATED"})
DELETE_ACTIONS = frozenset({"ANNOTATIONS_DELETED"})


def parse_webhook(payload: Any, *, key_field: str = KEY_FIELD) -> WebhookEvent:
    """A webhook body (already decoded from JSON) as a typed event, or PayloadError naming what is wrong."""
    if not isinstance(payload, Mapping):
        raise PayloadError("a webhook payload is a JSON object with an 'action'")
    action = payload.get("action")
    if not isinstance(action, str) or not action:
        raise PayloadError("a webhook payload is a JSON object with an 'action'")
    _text(action, "action", limit=100)
    if action in DELETE_ACTIONS:
        annotations = payload.get("annotations")
        if not isinstance(annotations, list) or not all(isinstance(a, Mapping) for a in annotations):
            raise PayloadError(f"{action} needs 'annotations': a list of objects with integer ids")
        if len(annotations) > MAX_ANNOTATIONS:
            raise PayloadError(f"{action} lists more than {MAX_ANNOTATIONS} annotations")
        ids = tuple(_id(a.get("id"), f"annotations[{n}].id") for n, a in enumerate(annotations))
        return WebhookEvent(action=action, deleted_ids=ids)
    if action in CREATE_OR_UPDATE_ACTIONS:
        return WebhookEvent(action=action, annotations=tuple(_annotated_tasks(payload, key_field)))
    return WebhookEvent(action=action)


def parse_annotation(raw: Any, task: Any, *, key_field: str = KEY_FIELD) -> AnnotationRecord:
    """One annotation and the task it belongs to, as Label Studio serialises them."""
    if not isinstance(raw, Mapping):
        raise PayloadError("an annotation is a JSON object")
    annotation_id = _id(raw.get("id"), "annotation.id")
    where = f"annotation {annotation_id}"
    if not isinstance(task, Mapping) or not isinstance(task.get("data"), Mapping):
        raise PayloadError(f"{where}: its task needs a 'data' object")
    task_id = raw.get("task") if task.get("id") is None else task.get("id")
    key = task["data"].get(key_field)
    if key is not None and not isinstance(key, str):
        key = None  # not a key of ours: the task is not ours
    completed_by = raw.get("completed_by")
    if isinstance(completed_by, Mapping):
        completed_by = completed_by.get("id")
    was_cancelled = raw.get("was_cancelled", False)
    if not isinstance(was_cancelled, bool):
        raise PayloadError(f"{where}: was_cancelled must be true or false, got {was_cancelled!r:.40}")
    return AnnotationRecord(
        id=annotation_id,
        task_id=None if task_id is None else _id(task_id, f"{where}: task id"),
        task_key=None if key is None else _text(key, f"{where}: task data {key_field}", limit=MAX_KEY_LENGTH),
        completed_by=None if completed_by is None else _id(completed_by, f"{where}: completed_by"),
        result=_result(raw.get("result"), where),
        lead_time=_lead_time(raw.get("lead_time"), where),
        created_at=_moment(raw.get("created_at"), f"{where}: created_at"),
        updated_at=_moment(raw.get("updated_at"), f"{where}: updated_at"),
        was_cancelled=was_cancelled,
    )


def _annotated_tasks(payload: Mapping[str, Any], key_field: str) -> Iterator[AnnotationRecord]:
    """One annotation and its task (ANNOTATION_CREATED/UPDATED), or lists of both matched on the annotation's
    task id (ANNOTATIONS_CREATED)."""
    annotation, task = payload.get("annotation"), payload.get("task")
    annotations: list[Any] = annotation if isinstance(annotation, list) else [annotation]
    tasks: list[Any] = task if isinstance(task, list) else [task]
    if not annotations or not all(isinstance(a, Mapping) for a in annotations):
        raise PayloadError("the payload needs an 'annotation' object (or a list of them)")
    if not tasks or not all(isinstance(t, Mapping) and isinstance(t.get("data"), Mapping) for t in tasks):
        raise PayloadError("the payload needs a 'task' object with 'data' (or a list of them)")
    if len(annotations) > MAX_ANNOTATIONS or len(tasks) > MAX_ANNOTATIONS:
        raise PayloadError(f"a payload carries at most {MAX_ANNOTATIONS} annotations and tasks")
    by_id: dict[int, Mapping[str, Any]] = {}
    for n, item in enumerate(tasks):
        if item.get("id") is not None:
            by_id[_id(item["id"], f"task[{n}].id")] = item
    for item in annotations:
        if len(tasks) == 1:
            yield parse_annotation(item, tasks[0], key_field=key_field)
            continue
        annotation_id = _id(item.get("id"), "annotation.id")
        task_id = item.get("task")
        owner = by_id.get(_id(task_id, f"annotation {annotation_id}: task")) if task_id is not None else None
        if owner is None:
            raise PayloadError(f"annotation {annotation_id} refers to a task that is not in the payload")
        yield parse_annotation(item, owner, key_field=key_field)


def _id(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ID:
        raise PayloadError(f"{where} must be an integer from 1 to {MAX_ID}, got {_shown(value)}")
    return value


def _id_or_none(value: Any) -> int | None:
    try:
        return _id(value, "id")
    except PayloadError:
        return None


def _text(value: Any, where: str, *, limit: int = MAX_TEXT_LENGTH) -> str:
    if not isinstance(value, str):
        raise PayloadError(f"{where} must be a string, got {_shown(value)}")
    if "\x00" in value:
        raise PayloadError(f"{where} contains a NUL character")
    if len(value) > limit:
        raise PayloadError(f"{where} is longer than {limit} characters")
    return value


def _lead_time(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PayloadError(f"{where}: lead_time must be a number of seconds, got {_shown(value)}")
    seconds = float(value)
    if not math.isfinite(seconds) or not 0 <= seconds <= MAX_LEAD_TIME:
        raise PayloadError(
            f"{where}: lead_time must be finite seconds in [0, {MAX_LEAD_TIME}], got {_shown(value)}"
        )
    return seconds


def _moment(value: Any, where: str) -> datetime | None:
    if value is None or value == "":
        return None
    text = _text(value, where, limit=64)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise PayloadError(f"{where} is not an ISO 8601 date and time: {_shown(value)}") from exc
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _result(value: Any, where: str) -> list[dict[str, Any]]:
    """The result regions, each an object with a string ``from_name``/``type`` (when given) and a ``value``
    object, every nested string and number storable as it is."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise PayloadError(f"{where}: result must be a list of regions")
    if len(value) > MAX_REGIONS:
        raise PayloadError(f"{where}: result has more than {MAX_REGIONS} regions")
    regions = []
    for n, region in enumerate(value):
        at = f"{where}: result[{n}]"
        if not isinstance(region, Mapping) or not isinstance(region.get("value"), Mapping):
            raise PayloadError(f"{at} needs a 'value' object")
        for name in ("from_name", "to_name", "type"):
            if region.get(name) is not None:
                _text(region[name], f"{at}.{name}", limit=200)
        regions.append(_json(region, at, depth=0))
    return regions


def _json(value: Any, where: str, *, depth: int) -> Any:
    """A copy of a decoded JSON value that PostgreSQL's jsonb can store: no NUL, finite numbers, bounded."""
    if depth > MAX_DEPTH:
        raise PayloadError(f"{where} is nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, str):
        return _text(value, where)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        if abs(value) >= 2**63:
            raise PayloadError(f"{where} is an integer beyond 64 bits")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise PayloadError(f"{where} is not a finite number")
        return value
    if isinstance(value, list):
        return [_json(item, f"{where}[{n}]", depth=depth + 1) for n, item in enumerate(value)]
    if isinstance(value, Mapping):
        copy = {}
        for name, item in value.items():
            key = _text(name, f"{where} key", limit=200)
            copy[key] = _json(item, f"{where}.{key}", depth=depth + 1)
        return copy
    raise PayloadError(f"{where} is not JSON: {_shown(value)}")


def _shown(value: Any) -> str:
    """A value for an error message: short, and escaped (repr shows a NUL as \\x00)."""
    return repr(value)[:60]
