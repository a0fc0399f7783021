"""A remote's one invalid object no longer blocks every later pull: `--on-invalid skip` writes
every valid object, lists the invalid one and moves the cursor on; the default still refuses
the whole pull and retries it next time."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from sentinelle.exchange.models import FederationCursor, SharedIndicator
from tests.exchange.test_federation import BIN, MEDALLION_AUTH
from tests.exchange.test_federation_states import COLLECTION, PLAIN_INDICATOR, indicator, serving

pytestmark = pytest.mark.skipif(not (BIN / "medallion").exists(),
                                reason="medallion is installed with the test extra")

BAD = indicator("indicator--be806465-6172-44a4-9e00-5b6c7d8e9fa0", "198.51.100.10", None)
BAD["pattern"] = "[domain-name:value = 'domain autuo.xicp.net']"
OBJECTS = [indicator(PLAIN_INDICATOR, "198.51.100.9", None), BAD]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_skip_writes_the_valid_objects_lists_the_bad_one_and_moves_on(db, tmp_path, bob,
                                                                      capsys):
    args = ["federate", "pull", "--api-root", "trustgroup1", "--collection", COLLECTION,
            "--basic-user", MEDALLION_AUTH["user"], "--basic-password",
            MEDALLION_AUTH["password"], "--user", bob.username]
    with serving(tmp_path, OBJECTS) as hub:
        with pytest.raises(Exception, match="rejected, nothing written"):
            call_command(*args[:2], "--remote", hub, *args[2:])
        assert not SharedIndicator.objects.exists()
        assert not FederationCursor.objects.filter(added_after__gt="").exists()

        call_command(*args[:2], "--remote", hub, *args[2:], "--on-invalid", "skip")
    out = capsys.readouterr().out
    assert SharedIndicator.objects.get().value == "198.51.100.9"
    assert "autuo.xicp.net" in out and '"rejected_count": 1' in out
    assert FederationCursor.objects.get().added_after   # the next pull starts after them


def test_on_invalid_is_checked_by_the_command(bob):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="--on-invalid"):
        call_command("federate", "pull", "--remote", "http://127.0.0.1:9/", "--api-root", "x",
                     "--collection", "y", "--on-invalid", "maybe", "--user", bob.username)
