"""Federation carries the State of each record (issue 16, point 4): a pulled object is filed
under the Member State its ``created_by_ref`` identity stands for when the remote is trusted for
that State, skipped and listed otherwise; updated indicators are re-pulled. The remote is the
OASIS reference server medallion on loopback, serving objects that claim to be any State's
(a remote can forge any identity: that is what trust is for)."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from sentinelle.core.models import AuditEntry, Role, SharingGroup
from sentinelle.exchange import federation
from sentinelle.exchange.exporters.stix import state_identity_id
from sentinelle.exchange.formats import stix
from sentinelle.exchange.formats import stix_common as sc
from sentinelle.exchange.identity import own_namespace_id, sealed_to, stable_id
from sentinelle.exchange.importer import import_records
from sentinelle.exchange.models import FederationRemote, SharedIndicator
from sentinelle.incidents.models import Incident
from tests.conftest import file_report, make_user
from tests.exchange.test_federation import (
    BIN,
    FIXTURE,
    MEDALLION_AUTH,
    Peer,
    free_port,
    running,
    serve_medallion,
)

COLLECTION = "91a7b528-80eb-42ed-a74d-c6fbd5a26116"
pytestmark = pytest.mark.skipif(not (BIN / "medallion").exists(),
                                reason="medallion is installed with the test extra")

CU, JM, CH = (state_identity_id(code) for code in ("CU", "JM", "CH"))
UNKNOWN = "identity--0d6a1f7e-9a55-4d8b-8f10-1e0d6a1f7e9a"
CU_INCIDENT = "incident--6a3b2f10-1c2d-4e5f-8a9b-0c1d2e3f4a5b"
JM_INCIDENT = "incident--7b4c3021-2d3e-4f60-9bac-1d2e3f4a5b6c"
CU_INDICATOR = "indicator--8c5d4132-3e4f-4071-8cbd-2e3f4a5b6c7d"
UNKNOWN_INDICATOR = "indicator--9d6e5243-4f50-4182-9dce-3f4a5b6c7d8e"
PLAIN_INDICATOR = "indicator--ae7f6354-5061-4293-8edf-4a5b6c7d8e9f"


def incident(oid: str, creator: str | None, title: str, tlp: str = "amber",
             modified: str = "2026-03-01T00:00:00.000Z") -> dict:
    obj = {"type": "incident", "spec_version": "2.1", "id": oid, "name": title,
           "description": title, "created": "2026-03-01T00:00:00.000Z", "modified": modified,
           "object_marking_refs": [sc.TLP2_IDS[tlp]],
           "x_sentinelle_started_at": "2026-02-28T10:00:00.000Z"}
    if creator:
        obj["created_by_ref"] = creator
    return obj


def indicator(oid: str, address: str, creator: str | None,
              modified: str = "2026-03-01T00:00:00.000Z") -> dict:
    obj = {"type": "indicator", "spec_version": "2.1", "id": oid, "name": f"ip {address}",
           "created": "2026-03-01T00:00:00.000Z", "modified": modified,
           "pattern": f"[ipv4-addr:value = '{address}']", "pattern_type": "stix",
           "valid_from": "2026-03-01T00:00:00.000Z", "object_marking_refs": [sc.TLP2_IDS["green"]]}
    if creator:
        obj["created_by_ref"] = creator
    return obj


OBJECTS = [
    incident(CU_INCIDENT, CU, "Cuban amber, as the hub holds it",
             modified="2099-01-01T00:00:00.000Z"),
    incident(JM_INCIDENT, JM, "Jamaican amber"),
    indicator(CU_INDICATOR, "198.51.100.7", CU),
    indicator(UNKNOWN_INDICATOR, "198.51.100.8", UNKNOWN),
    indicator(PLAIN_INDICATOR, "198.51.100.9", None),
]


@contextlib.contextmanager
def serving(tmp_path: Path, objects: list[dict]) -> Iterator[str]:
    """medallion serving `objects` in one collection (memory backend, basic auth)."""
    data = json.loads(Path(FIXTURE).read_text())
    for found in data["trustgroup1"]["collections"]:
        if found["id"] == COLLECTION:
            found["objects"] = objects
            found["manifest"] = [{"date_added": f"2026-03-01T00:00:0{n}.000000Z", "id": o["id"],
                                  "media_type": "application/stix+json;version=2.1",
                                  "version": o["modified"]} for n, o in enumerate(objects)]
    served = tmp_path / "served.json"
    served.write_text(json.dumps(data))
    with serve_medallion(served) as url:
        yield url


@pytest.fixture
def hub(tmp_path) -> Iterator[str]:
    with serving(tmp_path, OBJECTS) as url:
        yield url


def pull(hub: str, user, **kwargs) -> federation.RunResult:
    return federation.pull(remote=hub, api_root="trustgroup1", collection=COLLECTION, user=user,
                           auth=MEDALLION_AUTH, **kwargs)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_records_are_filed_under_the_states_the_remote_is_trusted_for(db, hub, alice, bob,
                                                                      charlie):
    # Cuba filed this report here; the hub holds a newer version of it.
    local = file_report(alice, tlp="amber", title="Cuban amber, as Cuba filed it")
    Incident.objects.filter(pk=local.pk).update(stix_id=CU_INCIDENT)

    # Default trust: only the puller's own State (Switzerland). Nothing of Cuba's or Jamaica's
    # is taken, least of all over Cuba's own report; each skip is listed with its reason.
    first = pull(hub, bob)
    assert first.filed_under == {"CH": 1}, first
    assert SharedIndicator.objects.get(value="198.51.100.9").state.alpha2 == "CH"
    assert first.skipped_other_states == 3 and first.skipped_unknown == 1
    reasons = {s["id"]: s["reason"] for s in first.skipped}
    assert "not trusted for CU" in reasons[CU_INCIDENT]
    assert "not trusted for JM" in reasons[JM_INCIDENT]
    assert "not trusted for CU" in reasons[CU_INDICATOR]
    assert "no Member State" in reasons[UNKNOWN_INDICATOR]
    assert Incident.objects.get(stix_id=CU_INCIDENT).title == "Cuban amber, as Cuba filed it"
    assert not SharedIndicator.objects.filter(value="198.51.100.7").exists()

    # Declared trusted for Cuba: Cuba's records are filed under Cuba, in Cuba's namespace (its
    # own report is updated by the newer version, the modified rule), Jamaica's still skipped.
    call_command("federate", "trust", "--remote", hub + "/", "--trusted-states", "cu")
    assert list(FederationRemote.objects.get().trusted_states.values_list("alpha2", flat=True)
                ) == ["CU"]
    second = pull(hub, bob, full=True)
    assert second.filed_under == {"CU": 2, "CH": 1}, second
    assert second.summary["reports_updated"] == 1 and second.summary["reports_created"] == 0
    assert {s["id"] for s in second.skipped} == {JM_INCIDENT, UNKNOWN_INDICATOR}
    report = Incident.objects.get(stix_id=CU_INCIDENT)
    assert report.state.alpha2 == "CU" and report.title == "Cuban amber, as the hub holds it"
    assert not Incident.objects.filter(stix_id=JM_INCIDENT).exists()
    cuban = SharedIndicator.objects.get(value="198.51.100.7")
    assert cuban.state.alpha2 == "CU" and cuban.stix_id == CU_INDICATOR
    assert cuban.created_by.username == "import-cu"
    # Visibility follows the State it was filed under: Cuba's AMBER report is Cuba's (and the
    # Secretariat's), never the pulling Swiss focal point's.
    assert Incident.objects.for_user(alice).filter(stix_id=CU_INCIDENT).exists()
    assert Incident.objects.for_user(charlie).filter(stix_id=CU_INCIDENT).exists()
    assert not Incident.objects.for_user(bob).filter(stix_id=CU_INCIDENT).exists()
    # The audit says where each record went and what was skipped.
    entry = AuditEntry.objects.filter(action="exchange.import").order_by("-seq").first()
    assert entry.after["filed_under"] == {"CU": 2, "CH": 1}
    assert entry.after["skipped_count"] == 2
    assert {s["reason"] for s in entry.after["skipped"]} == {
        reasons[JM_INCIDENT], reasons[UNKNOWN_INDICATOR]}


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_report_for_another_state_is_reported_by_that_states_account(db, hub, alice, bob):
    FederationRemote.objects.create(url=hub).trusted_states.add(alice.state)
    result = pull(hub, bob)
    assert result.summary["reports_created"] == 1
    report = Incident.objects.get(stix_id=CU_INCIDENT)
    # Cuba's import account reports it: the Swiss puller gets no party rights over it.
    assert report.state.alpha2 == "CU" and report.reporter.username == "import-cu"
    assert not report.reporter.is_active and not report.reporter.has_usable_password()
    assert report.status == "submitted"


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_an_updated_indicator_is_pulled_again_incrementally(db, hub, alice, bob):
    from taxii2client.v21 import Collection

    first = pull(hub, alice)
    assert first.summary["indicators_created"] == 2   # Cuba's own and the unattributed one
    before = SharedIndicator.objects.get(stix_id=CU_INDICATOR)
    remote = Collection(f"{hub}/trustgroup1/collections/{COLLECTION}/",
                        user=MEDALLION_AUTH["user"], password=MEDALLION_AUTH["password"])
    newer = indicator(CU_INDICATOR, "198.51.100.77", CU, modified="2026-05-01T00:00:00.000Z")
    newer["name"] = "corrected address"
    remote.add_objects({"objects": [newer]})
    again = pull(hub, alice)
    assert again.objects == 1                          # incremental: only the new version
    assert again.summary["indicators_updated"] == 1
    assert again.summary["indicators_created"] == 0
    after = SharedIndicator.objects.get(stix_id=CU_INDICATOR)
    assert (after.value, after.name) == ("198.51.100.77", "corrected address")
    assert after.added_at > before.added_at            # re-dated: our own TAXII serves it anew
    # An older version arriving later changes nothing.
    older = pull(hub, alice, full=True)
    assert older.summary["indicators_updated"] == 0
    assert SharedIndicator.objects.get(stix_id=CU_INDICATOR).value == "198.51.100.77"


@pytest.mark.django_db
def test_trust_command_checks_its_options(alice, capsys):
    with pytest.raises(CommandError) as bad:
        call_command("federate", "trust", "--remote", "https://hub.example/taxii2/",
                     "--trusted-states", "CU,QQ")
    assert bad.value.returncode == 2 and "--trusted-states" in str(bad.value)
    assert not FederationRemote.objects.exists()     # nothing half-written
    with pytest.raises(CommandError) as missing:
        call_command("federate", "pull", "--remote", "https://hub.example/", "--state", "CU")
    assert missing.value.returncode == 2 and "--api-root" in str(missing.value)
    call_command("federate", "trust", "--remote", "https://hub.example/taxii2",
                 "--trusted-states", "CU,JM")
    call_command("federate", "trust", "--remote", "https://hub.example/taxii2/")
    shown = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert shown == {"remote": "https://hub.example/taxii2", "trusted_states": ["CU", "JM"]}
    assert AuditEntry.objects.filter(action="exchange.federate.trust").count() == 1
    call_command("federate", "trust", "--remote", "https://hub.example/taxii2/",
                 "--trusted-states", "")
    assert not FederationRemote.objects.get().trusted_states.exists()



# --- the importer's "for State X" mode, and hostile producer identities -----------------------

def _bundle(*objects: dict) -> bytes:
    return json.dumps({"type": "bundle", "id": "bundle--00000000-0000-4000-8000-0000000000aa",
                       "objects": list(objects)}).encode()


@pytest.mark.django_db
def test_a_record_imported_for_a_state_is_sealed_and_merged_in_that_states_namespace(
        alice, bob):
    # An id sealed to Switzerland, the puller's State, arriving for Cuba: moved into Cuba's
    # namespace (not the puller's), as if Cuba had imported it.
    swiss = file_report(bob, tlp="green", title="Swiss")
    sealed = stable_id("incident", "iodef", "x-1", "", scope="CH")
    assert sealed_to(sealed) == "CH"
    Incident.objects.filter(pk=swiss.pk).update(stix_id=sealed)
    data = _bundle(incident(sealed, CU, "For Cuba"))
    summary = import_records(stix.parse(io.BytesIO(data)), user=bob, for_state=alice.state)
    assert summary.written and summary.filed_under == {"CU": 1}
    filed = Incident.objects.get(title="For Cuba")
    assert filed.state == alice.state and filed.stix_id == own_namespace_id("incident", "CU",
                                                                             sealed)
    assert sealed_to(filed.stix_id) == "CU"
    assert Incident.objects.get(stix_id=sealed).title == "Swiss"    # Switzerland's untouched
    # Again: found in Cuba's namespace and merged, never duplicated.
    again = import_records(stix.parse(io.BytesIO(data)), user=bob, for_state=alice.state)
    assert again.reports_merged == 1 and again.reports_created == 0
    # Cuba's sharing groups, not the puller's: a group only Switzerland is in is refused.
    SharingGroup.objects.create(name="Alpine").states.add(bob.state)
    grouped = incident("incident--0b1c2d3e-4f50-4612-8a3b-4c5d6e7f8091", CU, "Grouped")
    grouped["x_sentinelle_sharing_group"] = "Alpine"
    refused = import_records(stix.parse(io.BytesIO(_bundle(grouped))), user=bob,
                             for_state=alice.state)
    assert not refused.written and "Alpine" in refused.rejected[0].reason


@pytest.mark.django_db
@pytest.mark.parametrize("creator", [
    {"id": CU}, [CU], 12, True, "", "identity--" + "9" * 100_000, CU + "\u0000", JM.upper(),
])
def test_a_hostile_created_by_ref_is_never_a_state_it_does_not_name(alice, bob, creator):
    trust = federation.Trust("https://hub.example/", bob)
    result = federation.RunResult("pull")
    obj = indicator("indicator--1c2d3e4f-5061-4723-8b4c-5d6e7f809102", "198.51.100.60", None)
    obj["created_by_ref"] = creator
    records = list(stix.parse(io.BytesIO(_bundle(obj))))
    summary = import_records(iter(records), user=bob, route=trust.route(result))
    # A created_by_ref that is not a string is refused by the STIX schema; a string that is no
    # State's identity is skipped; nothing is filed under Cuba or Jamaica.
    assert not SharedIndicator.objects.filter(state__alpha2__in=["CU", "JM"]).exists()
    if summary.rejected:
        assert not summary.written and not SharedIndicator.objects.exists()
    else:
        assert summary.written and summary.filed_under in ({}, {"CH": 1})
        if summary.filed_under:
            assert creator == ""    # an empty producer is no producer: the puller's State
        else:
            assert result.skipped_unknown == 1


# --- a Sentinelle hub holding several States' reports ----------------------------------------

@pytest.mark.skipif(not (BIN / "gunicorn").exists(), reason="gunicorn: the test extra")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_sentinelle_hubs_reports_keep_their_states(db, tmp_path, alice, bob, charlie):
    """A regional hub (a second instance under gunicorn) holds Cuba's and Jamaica's reports;
    Switzerland pulls with the hub's Secretariat token from a remote trusted for Cuba only."""
    hub = Peer(tmp_path / "hub")
    hub.db.parent.mkdir()
    hub.run("migrate", "--no-input")
    hub.run("user", "create", "analyst-hub", "--role", "analyst")
    for code, tlp, title, oid in (
            ("CU", "amber", "Cuban amber on the hub",
             "incident--5e5e5e5e-0000-4000-8000-0000000000c0"),
            ("JM", "green", "Jamaican green on the hub",
             "incident--5e5e5e5e-0000-4000-8000-0000000000a0")):
        bundle = tmp_path / f"{code}.json"   # no created_by_ref: the hub files it under `code`
        bundle.write_bytes(_bundle(incident(oid, None, title, tlp=tlp)))
        hub.run("import", str(bundle), "--format", "stix", "--state", code)
    token = hub.run("token", "create", "--user", "analyst-hub").stdout.strip()
    FederationRemote.objects.create(url=f"http://127.0.0.1:{(port := free_port())}/taxii2/"
                                    ).trusted_states.add(alice.state)
    with running([str(BIN / "gunicorn"), "sentinelle.wsgi", "-b", f"127.0.0.1:{port}",
                  "--timeout", "60", "--workers", "1"], port, env=hub.env):
        result = federation.pull(remote=f"http://127.0.0.1:{port}/taxii2/",
                                 api_root="sentinelle", collection="all", user=bob, token=token)
    assert result.filed_under == {"CU": 1}, result
    assert [s["reason"] for s in result.skipped] == ["the remote is not trusted for JM"]
    cuban = Incident.objects.get(title="Cuban amber on the hub")
    assert cuban.state == alice.state and cuban.tlp == "amber"
    assert Incident.objects.for_user(alice).filter(pk=cuban.pk).exists()
    assert not Incident.objects.for_user(bob).filter(pk=cuban.pk).exists()
    assert not Incident.objects.filter(title__startswith="Jamaican").exists()



@pytest.mark.django_db
def test_conflict_check_survives_a_hostile_created_by_ref(alice, bob):
    # The conflict check reads raw objects before the STIX reader refuses them.
    hostile = incident(CU_INCIDENT, CU, "x", modified="2099-01-01T00:00:00.000Z")
    hostile["created_by_ref"] = {"id": CU}
    assert federation._record_conflicts([hostile], bob, "https://hub.example/") == []


@pytest.mark.django_db
def test_the_admin_sets_a_remotes_trusted_states_and_the_audit_keeps_it(alice, bob):
    ada = make_user("ada", Role.ADMIN, is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(ada)
    response = client.post("/admin/exchange/federationremote/add/", {
        "url": "https://hub.example.org/taxii2/", "note": "regional hub",
        "trusted_states": [alice.state_id]})
    assert response.status_code == 302, response.content.decode()[:2000]
    remote = FederationRemote.objects.get()
    assert remote.url == "https://hub.example.org/taxii2"   # one spelling per server
    assert list(remote.trusted_states.all()) == [alice.state]
    assert AuditEntry.objects.filter(object_type="exchange.federationremote").exists()
    # A focal point is no administrator: never the page.
    outsider = Client()
    outsider.force_login(bob)
    page = outsider.get("/admin/exchange/federationremote/")
    assert page.status_code in (302, 404) and b"hub.example.org" not in page.content
    # A pull by Switzerland now files Cuba's records under Cuba.
    assert federation.Trust("https://hub.example.org/taxii2/", bob).state_for(CU) == alice.state
    assert "JM" in federation.Trust("https://hub.example.org/taxii2", bob).state_for(JM)


@pytest.mark.django_db
def test_a_newer_indicator_in_a_file_updates_the_one_held_and_says_so(alice, tmp_path):
    from io import StringIO

    first = tmp_path / "first.json"
    first.write_bytes(_bundle(indicator(PLAIN_INDICATOR, "198.51.100.20", None)))
    newer = tmp_path / "newer.json"
    newer.write_bytes(_bundle(indicator(PLAIN_INDICATOR, "198.51.100.21", None,
                                        modified="2026-06-01T00:00:00.000Z")))
    for path, expected in ((first, "1 created, 0 merged, 0 updated"),
                           (newer, "0 created, 0 merged, 1 updated"),
                           (first, "0 created, 1 merged, 0 updated")):   # older: kept
        out = StringIO()
        call_command("import", str(path), "--format", "stix", "--state", "CU", stdout=out)
        assert f"indicators: {expected}" in out.getvalue()
    assert SharedIndicator.objects.get().value == "198.51.100.21"
