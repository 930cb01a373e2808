"""REST API of the evaluation app."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from evaluation import svo


class ChoiceField(serializers.Field):  # type: ignore[type-arg]
    """An option number 1..9, or a [self, other] allocation pair."""

    default_error_messages = {"invalid": "A choice is an option number 1..9 or a [self, other] pair."}

    def to_internal_value(self, data: Any) -> svo.Choice:
        if isinstance(data, bool):
            self.fail("invalid")
        if isinstance(data, int):
            return data
        if (
            isinstance(data, list | tuple)
            and len(data) == 2
            and all(isinstance(x, int) and not isinstance(x, bool) for x in data)
        ):
            return (data[0], data[1])
        self.fail("invalid")
        raise AssertionError  # unreachable: fail() raises

    def to_representation(self, value: Any) -> Any:
        return value


def _validated_choices(items: tuple[svo.Item, ...], choices: list[svo.Choice]) -> list[int]:
    if len(choices) != len(items):
        raise serializers.ValidationError(f"Expected {len(items)} choices, one per item, got {len(choices)}.")
    options = []
    for item, choice in zip(items, choices, strict=True):
        try:
            options.append(item.option_of(choice))
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from exc
    return options


class SvoScoreApi(APIView):
    """Score SVO Slider choices: angle, category, transitivity, inequality aversion and, given the induced
    value, target angle, angular deviation, value rationality and category hit (DESIGN.md section 1)."""

    class InputSerializer(serializers.Serializer):  # type: ignore[type-arg]
        primary = serializers.ListField(child=ChoiceField(), help_text="Six choices for primary items 1-6.")
        secondary = serializers.ListField(
            child=ChoiceField(), required=False, help_text="Nine choices for secondary items 7-15."
        )
        value = serializers.ChoiceField(choices=list(svo.VALUES), required=False)

        def validate_primary(self, choices: list[svo.Choice]) -> list[int]:
            return _validated_choices(svo.PRIMARY_ITEMS, choices)

        def validate_secondary(self, choices: list[svo.Choice]) -> list[int]:
            return _validated_choices(svo.SECONDARY_ITEMS, choices)

    class OutputSerializer(serializers.Serializer):  # type: ignore[type-arg]
        definitions_version = serializers.CharField()
        angle = serializers.FloatField()
        category = serializers.CharField()
        mean_self = serializers.FloatField()
        mean_other = serializers.FloatField()
        transitive = serializers.BooleanField()
        inequality_aversion = serializers.FloatField(allow_null=True, required=False)
        secondary_distances = serializers.DictField(child=serializers.FloatField(), required=False)
        value = serializers.CharField(required=False)
        target_angle = serializers.FloatField(required=False)
        angular_deviation = serializers.FloatField(required=False)
        value_rationality = serializers.FloatField(required=False)
        category_hit = serializers.BooleanField(required=False)

    @extend_schema(request=InputSerializer, responses=OutputSerializer)
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        primary = svo.score_primary(data["primary"])
        result: dict[str, Any] = {
            "definitions_version": svo.DEFINITIONS_VERSION,
            "angle": primary.angle,
            "category": primary.category,
            "mean_self": primary.mean_self,
            "mean_other": primary.mean_other,
            "transitive": primary.transitive,
        }
        if "secondary" in data:
            secondary = svo.score_secondary(data["secondary"])
            result["inequality_aversion"] = secondary.inequality_aversion
            result["secondary_distances"] = secondary.distances
        if "value" in data:
            choices = data["primary"] + data.get("secondary", [])
            scored = svo.score_value(data["value"], choices)
            result |= {
                "value": scored.value,
                "target_angle": scored.target_angle,
                "angular_deviation": scored.angular_deviation,
                "value_rationality": scored.value_rationality,
                "category_hit": scored.category_hit,
            }
        return Response(self.OutputSerializer(result).data)
