"""API plumbing shared by the apps: domain errors become 400 responses with field errors."""

from __future__ import annotations

from typing import Any, Literal

from drf_spectacular import openapi
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import exception_handler as drf_exception_handler


class DomainError(Exception):
    """A researcher-facing error: bad input or a state that forbids the action. Becomes HTTP 400."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DomainError):
        detail: dict[str, Any] = {exc.field: [exc.message]} if exc.field else {"detail": exc.message}
        return Response(detail, status=status.HTTP_400_BAD_REQUEST)
    return drf_exception_handler(exc, context)


class PostScopedRateThrottle(ScopedRateThrottle):
    """The view's ``throttle_scope`` rate (``DEFAULT_THROTTLE_RATES``), counted on writes only: listing runs
    stays free, creating them (or computing statistics) is limited per user."""

    def allow_request(self, request: Request, view: Any) -> bool:
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return True
        # The rates as configured now (DRF binds them once, at import, on the class).
        self.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES  # type: ignore[assignment]  # stubs: wrong type
        return bool(super().allow_request(request, view))


class AutoSchema(openapi.AutoSchema):
    """Names the nested ``InputSerializer``/``OutputSerializer`` of each API view after the view
    (``SvoScoreApi.InputSerializer`` -> ``SvoScoreInput``), so no two components share a name."""

    def get_serializer_name(self, serializer: Any, direction: Literal["request", "response"]) -> str:
        cls = serializer if isinstance(serializer, type) else type(serializer)
        outer, _, inner = cls.__qualname__.rpartition(".")
        if outer:
            return outer.rsplit(".", 1)[-1].removesuffix("Api") + inner.removesuffix("Serializer")
        return str(super().get_serializer_name(serializer, direction))
