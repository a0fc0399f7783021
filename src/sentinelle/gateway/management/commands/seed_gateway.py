"""Demo gateway content (idempotent: an entry whose title exists is left alone)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand
from django.utils.translation import ngettext

from sentinelle.core.models import MemberState
from sentinelle.gateway import services
from sentinelle.gateway.keys import generate_public_key
from sentinelle.gateway.models import CirtTeam, GatewayEntry, GoodPractice, Initiative, Resource

ACTOR = "command:seed-gateway"

INITIATIVES = [
    {"title": "National cybersecurity strategy and action plan 2025-2029", "scope": "national",
     "state": "CU", "language": "en", "organisations": "Ministry of Communications",
     "description": "A five-year strategy: protection of critical information infrastructure, "
                    "a national CIRT with 24/7 service, awareness for citizens and SMEs, and "
                    "cooperation with regional CIRTs on botnet and phishing takedowns.",
     "themes": "strategy, critical infrastructure, awareness", "progress": "ongoing",
     "start_date": dt.date(2025, 1, 1), "end_date": dt.date(2029, 12, 31),
     "translations": {"es": {"title": "Estrategia nacional de ciberseguridad 2025-2029",
                             "description": "Estrategia quinquenal: protección de la "
                                            "infraestructura crítica de información, CIRT "
                                            "nacional 24/7, sensibilización y cooperación "
                                            "regional contra botnets y phishing."}}},
    {"title": "Regional cyberdrill for the Americas", "scope": "regional", "state": None,
     "states": ["CU", "MX", "BR", "AR", "CO"], "language": "en",
     "organisations": "ITU, regional CIRTs",
     "description": "Yearly exercise in which national CIRTs handle simulated incidents "
                    "(distributed denial of service, ransomware, route hijack) and test their "
                    "communication channels.", "themes": "exercise, CIRT cooperation",
     "progress": "ongoing", "start_date": dt.date(2024, 9, 1),
     "links": "https://www.itu.int/en/ITU-D/Cybersecurity/Pages/cyberdrills.aspx"},
    {"title": "Global Cybersecurity Index", "scope": "international", "state": None,
     "language": "en", "organisations": "ITU",
     "description": "Measures the commitment of countries to cybersecurity along five pillars: "
                    "legal, technical, organisational, capacity development and cooperation.",
     "themes": "measurement", "progress": "ongoing",
     "links": "https://www.itu.int/en/ITU-D/Cybersecurity/Pages/global-cybersecurity-index.aspx"},
]

GOOD_PRACTICES = [
    {"measure": "Plateforme nationale de signalement de l'hameçonnage", "state": "SN",
     "language": "fr",
     "problem": "Les campagnes d'hameçonnage visant les clients des banques et des opérateurs "
                "mobiles se multipliaient sans point de signalement unique.",
     "results": "Bonne pratique : un formulaire public et une adresse de signalement relayés "
                "au CIRT national ; les sites frauduleux sont retirés en moins de 24 heures "
                "avec les hébergeurs.",
     "clause": "Res. 174 (Rev. Busan, 2014), charge le Secrétaire général 2"},
    {"measure": "Filtering of spam at the national Internet exchange point", "state": "CU",
     "language": "en",
     "problem": "Mass unsolicited messages by e-mail and SMS from compromised hosts degraded "
                "service quality.",
     "results": "Port 25 egress blocked for residential ranges; SMS spam reports shared with "
                "operators in X-ARF; volume down by 60% in one year.",
     "clause": "Res. 130 (Rev. Busan, 2014), invites Member States 3",
     "links": "https://www.rfc-editor.org/rfc/rfc5965"},
    {"measure": "Protocolo nacional de respuesta a ataques de denegación de servicio",
     "state": "MX", "language": "es",
     "problem": "Los ataques de denegación de servicio distribuido contra portales públicos "
                "duraban horas por falta de coordinación con los operadores.",
     "results": "Contactos de guardia, umbrales comunes y limpieza en origen acordados con "
                "los operadores; tiempo medio de mitigación reducido a 40 minutos.",
     "clause": "Res. 130 (Rev. Busan, 2014)"},
]

CIRTS = [
    {"name": "National CIRT of Cuba (demo)", "state": "CU", "language": "es",
     "constituency": "Organismos de la administración pública y operadores de "
                     "telecomunicaciones de Cuba.",
     "established": dt.date(2016, 5, 1), "host_organisation": "Ministry of Communications",
     "email": "cirt@cirt-cu.example.org", "phone": "+53 7 000 0000", "hours": "24/7",
     "time_zone": "America/Havana", "website": "https://cirt-cu.example.org/",
     "services": "Gestión de incidentes, alertas, análisis de artefactos.",
     "first_member": False},
    {"name": "GovCERT Switzerland (demo)", "state": "CH", "language": "en",
     "constituency": "Federal administration and operators of critical infrastructure.",
     "established": dt.date(2008, 4, 1), "host_organisation": "National Cyber Security Centre",
     "email": "incident@govcert-ch.example.org", "phone": "+41 58 000 00 00",
     "hours": "Monday to Friday 08:00-17:00, on call outside", "time_zone": "Europe/Zurich",
     "website": "https://govcert-ch.example.org/", "first_member": True,
     "services": "Incident handling, malware analysis, vulnerability coordination."},
    {"name": "CERT national du Sénégal (demo)", "state": "SN", "language": "fr",
     "constituency": "Administrations publiques, opérateurs et citoyens du Sénégal.",
     "established": dt.date(2021, 3, 1), "host_organisation": "Ministère du Numérique",
     "email": "contact@cert-sn.example.org", "hours": "Lundi-vendredi 8h-18h",
     "time_zone": "Africa/Dakar", "website": "https://cert-sn.example.org/",
     "services": "Traitement des incidents, veille, sensibilisation.", "first_member": False},
]

RESOURCES = [
    {"title": "Guide to developing a national cybersecurity strategy", "kind": "guide",
     "state": None, "language": "en", "provider": "ITU and partners",
     "url": "https://www.itu.int/pub/D-STR-CYB_GUIDE.01-2021",
     "description": "Reference guide for governments preparing or revising a national "
                    "cybersecurity strategy."},
    {"title": "Sentinelle access probe", "kind": "tool", "state": None, "language": "en",
     "provider": "ITU", "licence": "Apache-2.0",
     "url": "https://github.com/example/sentinelle",
     "description": "Tests public sites and resources from a vantage point against a control, "
                    "recognises geoblocking and produces a signed evidence bundle."},
]


def _data(model: type[GatewayEntry], raw: dict[str, Any]) -> dict[str, Any]:
    data = dict(raw)
    state = data.pop("state", None)
    data["state"] = MemberState.objects.filter(alpha2=state).first() if state else None
    if "states" in data:
        data["states"] = list(MemberState.objects.filter(alpha2__in=data["states"]))
    if model is CirtTeam:
        data["pgp_key"] = generate_public_key(data["name"], data["email"])
    return data


class Command(BaseCommand):
    help = ("Seed demo gateway content: initiatives, good practices (one in French), national "
            "CIRTs with generated PGP keys, resources. Idempotent. "
            "Example: sentinelle seed-gateway")

    def handle(self, *args, **options):
        added = 0
        for model, rows in ((Initiative, INITIATIVES), (GoodPractice, GOOD_PRACTICES),
                            (CirtTeam, CIRTS), (Resource, RESOURCES)):
            for raw in rows:
                title = raw[model.TITLE_FIELD]
                if model.objects.filter(**{model.TITLE_FIELD: title}).exists():
                    continue
                services.seed_entry(model, _data(model, raw), ACTOR)
                added += 1
        self.stdout.write(ngettext("gateway: %(count)d entry added",
                                   "gateway: %(count)d entries added", added) % {"count": added})
