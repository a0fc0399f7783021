from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, viewsets
from rest_framework.generics import get_object_or_404  # DRF's: "null,null" is a 404, not 500
from rest_framework.response import Response

from sentinelle.core.models import Job


class JobSerializer(serializers.ModelSerializer):
    output = serializers.SerializerMethodField()

    class Meta:
        model = Job
        fields = ["id", "kind", "status", "input_name", "input_size", "input_sha256",
                  "progress_done", "progress_total", "message", "failure", "result",
                  "created_at",
                  "started_at", "finished_at", "output"]
        # Another's job shows these as null (PRIVATE_FIELDS below): the schema must say so.
        extra_kwargs = {name: {"allow_null": True} for name in
                        ("input_name", "input_size", "input_sha256", "message", "failure",
                         "result")}

    def get_output(self, job) -> str | None:
        if not job.output or job.status != Job.Status.SUCCEEDED:
            return None
        request = self.context.get("request")
        path = f"/jobs/{job.pk}/output/"
        return request.build_absolute_uri(path) if request else path


class JobViewSet(viewsets.ViewSet):
    """Status of a long job (import, report, federation) you started."""

    serializer_class = JobSerializer

    @extend_schema(parameters=[OpenApiParameter("id", int, OpenApiParameter.PATH)],
                   responses=JobSerializer)
    def retrieve(self, request, pk=None):
        job = get_object_or_404(Job.objects.status_for_user(request.user), pk=pk)
        return Response(_shown(job, request))

    def list(self, request):
        jobs = Job.objects.status_for_user(request.user)[:100]
        return Response([_shown(job, request) for job in jobs])


# What another's job may show: its status, never its files, message or result (an export's
# output holds what its owner may see).
PRIVATE_FIELDS = ("input_name", "input_size", "input_sha256", "message", "failure", "result",
                  "output")


def _shown(job: Job, request) -> dict:
    data = JobSerializer(job, context={"request": request}).data
    if job.owner_id != request.user.pk:
        data.update(dict.fromkeys(PRIVATE_FIELDS))
    return data
