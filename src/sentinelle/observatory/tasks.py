"""The submission job: the web upload runs verification and report creation off the request."""

from __future__ import annotations

from django.conf import settings
from django.utils import translation

from sentinelle.core import jobs
from sentinelle.observatory import services

KIND = "observatory-submit"


@jobs.handler(KIND)
def run_submit(job, progress) -> dict:
    """Verify the uploaded bundle and make its draft report; a refusal fails the job with the
    verifier's words (services.BundleRefused is a ValidationError)."""
    progress.total(1)
    # The narrative and any refusal in the uploader's language, whether the job runs in the
    # request (immediate backend) or in a worker (database backend, whose language is the
    # default one).
    language = job.params.get("language") or job.owner.language or settings.LANGUAGE_CODE
    with translation.override(language), job.input.open("rb") as stream:
        outcome = services.submit(job.owner, stream, expect=job.params.get("expect") or None,
                                  name=job.input_name)
    progress.advance(1)
    incident = outcome.incident
    return {"report": incident.reference, "report_url": incident.get_absolute_url(),
            "created": outcome.created, "message": outcome.message}
