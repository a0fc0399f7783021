"""Helpers shared by the gateway tests: entries made through the service layer."""

from __future__ import annotations

from sentinelle.gateway import services
from sentinelle.gateway.models import CirtTeam, GoodPractice, Initiative, Resource

DEFAULTS = {
    Initiative: {"title": "National strategy", "scope": "national",
                 "description": "A strategy for critical infrastructure.", "language": "en"},
    GoodPractice: {"measure": "Phishing takedown desk", "problem": "Phishing of bank clients.",
                   "results": "Sites removed within a day.", "language": "en"},
    CirtTeam: {"name": "CIRT test team", "constituency": "Government networks.",
               "email": "cirt@example.org", "language": "en"},
    Resource: {"title": "Open scanner", "kind": "tool", "description": "A scanner.",
               "url": "https://example.org/scanner", "language": "en"},
}


def make_entry(user, model=GoodPractice, **data):
    return services.create_entry(user, model, {**DEFAULTS[model], **data})


def publish(entry, author, secretariat):
    services.transition(author, entry, "submit")
    return services.transition(secretariat, entry, "publish")
