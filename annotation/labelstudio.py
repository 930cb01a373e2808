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
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any

import httpx

from hvae_site import outbound

WEBHOOK_ACTIONS = ("ANNOTATION_CREATED", "ANNOTATIONS_CREATED", "ANNOTATION_UPDATED", "ANNOTATIONS_DELETED")
_PAGE_SIZE = 100
_IMPORT_CHUNK = 500
_FORM_ERRORS = re.compile(r'class="field_errors">(.*?)</ul>', re.DOTALL)
_LIST_ITEM = re.compile(r"<li>(.*?)</li>", re.DOTALL)


class LabelStudioError(Exception):
    """Label Studio is unreachable or refused a request; the message says which and why."""


@dataclass(frozen=True)
class ImportResult:
    created: int
    existing: int
    task_ids: dict[str, int]  # our key -> Label Studio task id, for every task passed in


@dataclass(frozen=True)
class AnnotationRecord:
    id: int
    task_id: int
    task_data: dict[str, Any]
    completed_by: int | None
    result: list[dict[str, Any]]
    lead_time: float | None
    created_at: datetime
    updated_at: datetime
    was_cancelled: bool


@dataclass(frozen=True)
class RaterAccount:
    id: int
    email: str
    username: str
    token: str | None  # the rater's own API token; known only when ensure_user was given the password


class LabelStudioClient:
    def __init__(self, url: str, api_key: str, *, timeout: float = 30) -> None:
        self.url = url.rstrip("/")
        self._timeout = timeout
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
        missing = [task for key, task in by_key.items() if key not in known]
        for start in range(0, len(missing), _IMPORT_CHUNK):
            self._request(
                "POST", f"/api/projects/{project_id}/import", json=missing[start : start + _IMPORT_CHUNK]
            )
        if missing:
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
        """Annotations (skips included) updated at or after `since` (all when None), oldest first."""
        if since is not None and since.tzinfo is None:
            raise ValueError("since must be timezone-aware")
        records = []
        for task in self._tasks(project_id, with_annotations=True):
            for raw in task.get("annotations") or []:
                record = _annotation_record(raw, task)
                if since is None or record.updated_at >= since:
                    records.append(record)
        return sorted(records, key=lambda r: (r.updated_at, r.id))

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

    def _task_ids(self, project_id: int, key_field: str) -> dict[str, int]:
        ids: dict[str, int] = {}
        for task in self._tasks(project_id, with_annotations=False):
            key = (task.get("data") or {}).get(key_field)
            if isinstance(key, str):
                ids.setdefault(key, int(task["id"]))
        return ids

    def _tasks(self, project_id: int, *, with_annotations: bool) -> Iterator[dict[str, Any]]:
        """Every task of the project, in id order (the data manager's default), page by page."""
        page, seen = 1, 0
        while True:
            params: dict[str, Any] = {"project": project_id, "page": page, "page_size": _PAGE_SIZE}
            if with_annotations:
                params["fields"] = "all"
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
            body = self._request("GET", path, params={"page": page, "page_size": _PAGE_SIZE})
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


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Token {token}"}


def _annotation_record(raw: dict[str, Any], task: dict[str, Any]) -> AnnotationRecord:
    lead_time = raw.get("lead_time")
    completed_by = raw.get("completed_by")
    if isinstance(completed_by, dict):
        completed_by = completed_by.get("id")
    return AnnotationRecord(
        id=int(raw["id"]),
        task_id=int(task["id"]),
        task_data=dict(task.get("data") or {}),
        completed_by=int(completed_by) if completed_by is not None else None,
        result=list(raw.get("result") or []),
        lead_time=float(lead_time) if lead_time is not None else None,
        created_at=datetime.fromisoformat(raw["created_at"]),
        updated_at=datetime.fromisoformat(raw["updated_at"]),
        was_cancelled=bool(raw.get("was_cancelled")),
    )
