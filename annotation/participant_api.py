"""REST API for people taking the SVO slider: participant links (list, create) and participants with their
scored answers. Everything is scoped by the studies ``evaluation.access`` lets the user see."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from annotation import participant_selectors as selectors
from annotation import participant_services as services
from annotation.models import (
    INDUCE_CHOICES,
    ITEM_SET_CHOICES,
    Participant,
    SvoItemAnswer,
    SvoLink,
    SvoResponseSet,
)
from evaluation import access
from evaluation.models import Study


class SvoLinkOutput(serializers.ModelSerializer):  # type: ignore[type-arg]
    url = serializers.SerializerMethodField()
    participants = serializers.SerializerMethodField()

    class Meta:
        model = SvoLink
        fields = [
            "id",
            "study",
            "induce",
            "items",
            "retest_after_hours",
            "quota",
            "seed",
            "url",
            "participants",
            "created_at",
        ]
        # Output only: as a form (the browsable API) it would list every study as a choice.
        read_only_fields = fields

    def get_url(self, link: SvoLink) -> str:
        return selectors.svo_link_url(link=link)

    def get_participants(self, link: SvoLink) -> int:
        return link.participants.count()


class SvoLinkListApi(generics.ListAPIView):  # type: ignore[type-arg]
    """List participant links, or make one (POST) whose signed URL people open to take the slider."""

    serializer_class = SvoLinkOutput
    filterset_fields = ["study", "induce"]

    def get_queryset(self) -> QuerySet[SvoLink]:
        return selectors.svo_links_visible_to(self.request.user)

    class InputSerializer(serializers.Serializer):  # type: ignore[type-arg]
        study = serializers.PrimaryKeyRelatedField(queryset=Study.objects.all())
        induce = serializers.ChoiceField(choices=INDUCE_CHOICES, default="none")
        items = serializers.ChoiceField(choices=ITEM_SET_CHOICES, default="primary")
        retest_after_hours = serializers.IntegerField(
            min_value=0, max_value=services.MAX_RETEST_HOURS, required=False, allow_null=True, default=None
        )
        quota = serializers.IntegerField(
            min_value=1, max_value=services.MAX_QUOTA, required=False, allow_null=True, default=None
        )
        seed = serializers.IntegerField(min_value=-(2**63), max_value=2**63 - 1, default=0)

    @extend_schema(request=InputSerializer, responses={201: SvoLinkOutput})
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        access.check_write(request.user, serializer.validated_data["study"], field="study")
        link = services.svo_link_create(
            **serializer.validated_data, created_by=access.researcher(request.user)
        )
        return Response(SvoLinkOutput(link).data, status=status.HTTP_201_CREATED)


class AnswerOutput(serializers.ModelSerializer):  # type: ignore[type-arg]
    stop_from_left = serializers.IntegerField(read_only=True)

    class Meta:
        model = SvoItemAnswer
        fields = ["item", "option", "position", "reversed_slider", "stop_from_left", "changed_at", "seconds"]
        read_only_fields = fields


class ResponseSetOutput(serializers.ModelSerializer):  # type: ignore[type-arg]
    answers = AnswerOutput(many=True, read_only=True)

    class Meta:
        model = SvoResponseSet
        fields = [
            "id",
            "wave",
            "items",
            "definitions_version",
            "value",
            "angle",
            "category",
            "mean_self",
            "mean_other",
            "transitive",
            "inequality_aversion",
            "value_rationality",
            "angular_deviation",
            "category_hit",
            "scores",
            "straight_lined",
            "too_fast",
            "median_item_seconds",
            "page_seconds",
            "submitted_at",
            "answers",
        ]
        read_only_fields = fields


class ParticipantOutput(serializers.ModelSerializer):  # type: ignore[type-arg]
    study = serializers.IntegerField(source="link.study_id", read_only=True)
    waves = serializers.SerializerMethodField()

    class Meta:
        model = Participant
        fields = [
            "id",
            "link",
            "study",
            "participant_id",
            "platform_study_id",
            "platform_session_id",
            "assigned_value",
            "reversed_slider",
            "consented_at",
            "consent_version",
            "waves",
            "created_at",
        ]
        read_only_fields = fields

    def get_waves(self, participant: Participant) -> list[int]:
        return sorted(r.wave for r in participant.response_sets.all())


class ParticipantListApi(generics.ListAPIView):  # type: ignore[type-arg]
    serializer_class = ParticipantOutput
    filterset_fields = ["link", "link__study", "assigned_value"]

    def get_queryset(self) -> QuerySet[Participant]:
        return selectors.participants_visible_to(self.request.user).prefetch_related("response_sets")


class ParticipantDetailOutput(ParticipantOutput):
    response_sets = ResponseSetOutput(many=True, read_only=True)

    class Meta(ParticipantOutput.Meta):
        fields = [*ParticipantOutput.Meta.fields, "response_sets"]
        read_only_fields = fields


class ParticipantDetailApi(generics.RetrieveAPIView):  # type: ignore[type-arg]
    """One participant with every wave's scores, flags and item answers."""

    serializer_class = ParticipantDetailOutput

    def get_queryset(self) -> QuerySet[Participant]:
        return selectors.participants_visible_to(self.request.user).prefetch_related("response_sets__answers")
