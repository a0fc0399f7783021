"""The ``campaign`` value of an access-probe bundle's signed manifest, as the platform reads it
when a campaign round is submitted: ``observatory.campaign_spec.parse`` on the manifest (the
input is the manifest's JSON; reading the manifest itself is the bundle target's business)."""

from __future__ import annotations

import json
import os

import django
from django.conf import settings

from fuzz.harness import Target

# The validator's messages go through Django's gettext: outside the test suite (make fuzz) a
# minimal configuration without translations is enough.
if not settings.configured:
    if os.environ.get("DJANGO_SETTINGS_MODULE"):
        django.setup()
    else:
        settings.configure(USE_I18N=False)

from sentinelle.observatory.campaign_spec import (  # noqa: E402 - after the settings
    MAX_ROUND,
    CampaignInvalid,
    parse,
)


def run(data: bytes) -> None:
    try:
        manifest = json.loads(data)
    except (ValueError, RecursionError):
        return      # not a manifest: the bundle reader refuses it before this parser runs
    if not isinstance(manifest, dict):
        return
    spec = parse(manifest)
    if spec is None:
        return
    if not (1 <= spec.round <= MAX_ROUND and spec.scheduled_at.tzinfo is not None
            and 0 < len(spec.name) <= 64 and spec.interval >= 0):
        raise AssertionError(spec)


TARGET = Target(
    name="campaign",
    seeds=(),
    run=run,
    refusals=(CampaignInvalid,),
    kind="json",
)
