"""An event a State's live routing monitor posts to the platform (the `event` field of POST
/api/v1/observatory/routing/events/): ``observatory.live_validation.parse_event`` then
``clean_event``; an accepted event must come out JSON-able with its idempotency key."""

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

from sentinelle.observatory.live_validation import (  # noqa: E402 - after the settings
    EventInvalid,
    clean_event,
    parse_event,
)


def run(data: bytes) -> None:
    event = clean_event(parse_event(data))
    body = event.to_dict()
    json.dumps(body, allow_nan=False)
    if len(body["idempotency_key"]) != 32:
        raise AssertionError(body["idempotency_key"])


TARGET = Target(
    name="routing_event",
    seeds=(),
    run=run,
    refusals=(EventInvalid,),
    kind="json",
)
