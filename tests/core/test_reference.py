import pytest
from django.utils import translation

from sentinelle.core.models import MemberState
from sentinelle.incidents.models import Category, RsitClass, RsitType


@pytest.mark.django_db
def test_the_194_member_states_are_loaded_with_six_names():
    assert MemberState.objects.count() == 194
    assert not MemberState.objects.filter(alpha2="PS").exists()  # observer, not a Member State
    cuba = MemberState.objects.get(alpha2="CU")
    assert (cuba.alpha3, cuba.itu_code) == ("CUB", "CUB")
    assert cuba.name_ar and cuba.name_zh and cuba.name_ru
    assert MemberState.objects.filter(alpha2="VA").exists()
    assert MemberState.objects.filter(alpha2="PW").exists()
    assert MemberState.objects.exclude(itu_d_region="").count() == 194


@pytest.mark.django_db
def test_taxonomy_comes_from_the_data_files_with_translated_labels():
    assert set(Category.objects.values_list("code", flat=True)) == {
        "interception-surveillance", "trust-security", "routing-disruption", "access-denial",
        "other"}
    assert RsitClass.objects.count() == 11
    ddos = RsitType.objects.get(code="ddos")
    assert ddos.machine_tag == "availability:ddos"
    with translation.override("fr"):
        assert ddos.label == "Déni de service distribué"
        assert Category.objects.get(code="access-denial").label.startswith("Refus d'accès")
    with translation.override("es"):
        assert ddos.rsit_class.label == "Disponibilidad"
    for rsit_type in RsitType.objects.all():
        assert {"en", "fr", "es"} <= set(rsit_type.labels), rsit_type.code
