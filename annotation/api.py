"""REST API of the annotation app: push batches, list batches, raters and judgments."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from annotation import labeling, selectors, services
from annotation.models import AnnotationBatch, HumanJudgment, Rater
from evaluation import access
from evaluation.models import Study
from hvae_site import validators


class BatchOutput(serializers.ModelSerializer):  # type: ignore[type-arg]
    invite_url = serializers.SerializerMethodField()

    class Meta:
        model = AnnotationBatch
        fields = [
            "id",
            "study",
            "arm",
            "size",
            "overlap",
            "seed",
            "gold",
            "show_choices",
            "extraction_audit",
            "show_prediction",
            "show_induction",
            "tasks_per_rater",
            "include_reference",
            "gold_per_rater",
            "gold_min_answered",
            "gold_fail_threshold",
            "sampling_spec",
            "label_studio_project_id",
            "invite_url",
            "invite_expires_at",
            "last_synced_at",
            "created_at",
        ]
        # Output only: as a form (the browsable API) it would list every study as a choice.
        read_only_fields = fields

    def get_invite_url(self, batch: AnnotationBatch) -> str:
        return selectors.invite_url(batch=batch)


class BatchListApi(generics.ListAPIView):  # type: ignore[type-arg]
    """List annotation batches, or push one to Label Studio (POST; the same design reuses its batch)."""

    serializer_class = BatchOutput
    filterset_fields = ["study"]

    def get_queryset(self) -> QuerySet[AnnotationBatch]:
        return selectors.batches_visible_to(self.request.user)

    class InputSerializer(serializers.Serializer):  # type: ignore[type-arg]
        study = serializers.PrimaryKeyRelatedField(queryset=Study.objects.all())
        arm = serializers.ChoiceField(choices=labeling.ARMS, default=labeling.BLIND)
        size = validators.CountField(maximum=100_000)
        overlap = validators.CountField(maximum=100, default=services.DEFAULT_OVERLAP)
        allow_single_rater = serializers.BooleanField(
            default=False, help_text="Allow overlap 1 (one rater per task: no inter-rater reliability)."
        )
        seed = validators.SeedField()
        gold = validators.CountField(minimum=0, maximum=10_000, default=0)
        tasks_per_rater = validators.CountField(maximum=100_000, default=services.DEFAULT_QUOTA)
        include_reference = serializers.BooleanField(
            default=False,
            help_text="Let reference-agent transcripts be sampled as ordinary items (demos); otherwise they "
            "enter only as gold.",
        )
        gold_per_rater = validators.CountField(
            minimum=0,
            maximum=100_000,
            default=0,
            help_text="Gold items every rater meets within their quota (tasks_per_rater).",
        )
        gold_min_answered = validators.CountField(
            maximum=100_000,
            default=services.MIN_GOLD_FOR_FLAG,
            help_text="Gold items a rater must have answered before they can be flagged.",
        )
        gold_fail_threshold = serializers.FloatField(
            min_value=0.0,
            max_value=1.0,
            default=services.DEFAULT_GOLD_FAIL_THRESHOLD,
            help_text="Raters whose gold accuracy is below this share are flagged (unclear counts as a miss).",
        )
        show_choices = serializers.BooleanField(default=True)
        extraction_audit = serializers.BooleanField(default=False)
        show_prediction = serializers.BooleanField(default=False)
        show_induction = serializers.BooleanField(default=False)

    @extend_schema(request=InputSerializer, responses={201: BatchOutput})
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        access.check_write(request.user, serializer.validated_data["study"], field="study")
        result = services.annotation_batch_push(**serializer.validated_data)
        code = status.HTTP_201_CREATED if result.batch_created else status.HTTP_200_OK
        return Response(BatchOutput(result.batch).data, status=code)


class RaterOutput(serializers.ModelSerializer):  # type: ignore[type-arg]
    completion_code = serializers.SerializerMethodField(
        help_text="The code this rater is shown once done, to check against the one handed in on the platform."
    )

    class Meta:
        model = Rater
        fields = [
            "id",
            "batch",
            "participant_id",
            "consented_at",
            "consent_version",
            "flagged",
            "excluded",
            "created_at",
            "completion_code",
        ]

    def get_completion_code(self, rater: Rater) -> str:
        return selectors.rater_completion_code(rater=rater)


class RaterListApi(generics.ListAPIView):  # type: ignore[type-arg]
    serializer_class = RaterOutput

    def get_queryset(self) -> QuerySet[Rater]:
        return selectors.raters_visible_to(self.request.user)

    filterset_fields = ["batch", "flagged", "excluded"]


class JudgmentOutput(serializers.ModelSerializer):  # type: ignore[type-arg]
    class Meta:
        model = HumanJudgment
        fields = [
            "id",
            "label_studio_annotation_id",
            "task",
            "trial",
            "rater",
            "category",
            "angle_estimate",
            "confidence",
            "served_value",
            "extraction_audit",
            "comment",
            "lead_time",
            "was_cancelled",
            "deleted",
            "annotated_at",
            "received_at",
        ]


class JudgmentListApi(generics.ListAPIView):  # type: ignore[type-arg]
    serializer_class = JudgmentOutput

    def get_queryset(self) -> QuerySet[HumanJudgment]:
        return selectors.judgments_visible_to(self.request.user)

    filterset_fields = ["task__batch", "trial", "rater", "deleted"]
