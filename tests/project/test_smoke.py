from tests.conftest import api_client, file_report


def test_report_roundtrip_over_api(alice, bob, charlie):
    incident = file_report(alice)
    assert api_client(alice).get(f"/api/v1/incidents/{incident.pk}/").status_code == 200
    assert api_client(bob).get(f"/api/v1/incidents/{incident.pk}/").status_code == 404
    assert api_client(charlie).get(f"/api/v1/incidents/{incident.pk}/").status_code == 200
