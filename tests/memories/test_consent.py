"""Parental consent gates memory: nothing served or learned without it, learning only with
the LLM provider's consent, a new notice asks again, withdrawal stops memory at once (keep
paused or erase), the signed form end to end, and support sees state, never contents."""

from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from devices import consent, services
from devices.models import Consent, ConsentVerification
from memories import conversations, erasure
from memories import services as memory_services
from memories.models import Conversation
from tests.conftest import unique_mac
from tests.memories import conftest_api
from tests.memories.conftest_api import api_url

fleet, toy = conftest_api.fleet, conftest_api.toy
pytestmark = pytest.mark.django_db
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
SESSION = [{"role": "user", "content": "I love trains"}, {"role": "assistant", "content": "Choo choo!"}]


@pytest.fixture
def newcomer(family):
    """A child of household A with a toy and no consent yet."""
    child = services.child_create(actor=family.parent_a, household=family.household_a, name="Anya",
                                  birth_date=date(2019, 3, 3))
    device = services.device_register(actor=family.parent_a, household=family.household_a, mac=unique_mac(),
                                      name="Robot N", child=child, agent=family.agent)
    return child, device


def off(device, learning=False):
    """The one place's answer, uncached (a process caches it until a committed change)."""
    return conversations._off_reason(device.agent, device.child, learning=learning)


def _memory(child, device, text="Anya likes kites"):
    from memories import gateway

    return gateway.get().add(child.namespace, text, {"kind": "learned", "device_id": str(device.pk)})


def test_without_consent_the_toy_gets_nothing_and_learns_nothing(newcomer, toy, gw):
    child, device = newcomer
    _memory(child, device)
    config = toy.get(api_url(device.mac, "config")).json()["memory"]
    assert config["enabled"] is False and config["reason"] == "no_consent"
    assert config["learning"] is False and config["learning_reason"] == "no_consent"
    context = toy.get(api_url(device.mac, "memory-context")).json()
    assert context == {"enabled": False, "reason": "no_consent", "items": [], "block": ""}
    response = toy.post(api_url(device.mac, "conversations"), {"messages": SESSION}, content_type="application/json")
    assert response.status_code == 202
    assert response.json()["state"] == "dropped" and response.json()["drop_reason"] == "no_consent"
    assert Conversation.objects.get(pk=response.json()["id"]).messages == []


def test_collection_without_the_llm_provider_recalls_but_does_not_learn(family, newcomer, toy, gw):
    child, device = newcomer
    _memory(child, device)
    consent.consent_record(child=child, purposes=["collection"], signer_name="Parent A", granted_by=family.parent_a,
                           method="signed_form", verified_by=family.support)
    config = toy.get(api_url(device.mac, "config")).json()["memory"]
    assert (config["enabled"], config["reason"], config["learning"], config["learning_reason"]) == (
        True, "", False, "no_llm_consent")
    assert len(toy.get(api_url(device.mac, "memory-context")).json()["items"]) == 1
    response = toy.post(api_url(device.mac, "conversations"), {"messages": SESSION}, content_type="application/json")
    assert response.json()["drop_reason"] == "no_llm_consent"


def test_the_platform_needs_its_own_named_consent(family, newcomer, settings):
    child, device = newcomer
    consent.consent_record(child=child, purposes=["collection", "llm"], signer_name="Parent A",
                           granted_by=family.parent_a, method="signed_form", verified_by=family.support)
    assert off(device) == ""
    settings.MEM0_API_KEY = "m0-test"  # the portal now runs on the Mem0 Platform (a restart)
    assert "mem0_platform" in consent.offered_purposes()
    assert off(device) == "no_platform_consent"


def test_a_new_notice_version_asks_again(family, toy, monkeypatch, login):
    assert off(family.device_a) == ""
    monkeypatch.setattr(consent, "NOTICE_VERSION", "2099-01")  # a new notice (a deploy)
    assert off(family.device_a) == "no_consent"
    page = login(family.parent_a).get(f"/children/{family.child_a.pk}/consent/")
    assert "Notice changed: asked again" in page.content.decode()
    consent.consent_record(child=family.child_a, purposes=["collection", "llm"], signer_name="Parent A",
                           granted_by=family.parent_a, method="signed_form", verified_by=family.support)
    assert off(family.device_a) == ""
    live = Consent.objects.filter(child=family.child_a, withdrawn_at__isnull=True)
    assert {c.notice_version for c in live} == {"2099-01"}
    assert Consent.objects.filter(child=family.child_a, withdrawal="superseded").count() == 2


def test_signed_form_end_to_end(family, newcomer, login, client):
    child, device = newcomer
    parent = login(family.parent_a)
    page = parent.get(f"/children/{child.pk}/consent/")
    assert page.status_code == 200 and "What the toy remembers, and who sees it" in page.content.decode()
    response = parent.post(f"/children/{child.pk}/consent/", {"signer_name": "Priya Sharma",
                                                               "purposes": ["collection", "llm"]})
    verification = ConsentVerification.objects.get(child=child)
    assert response.status_code == 302 and response.url == f"/consent/{verification.reference}/"
    form_page = parent.get(response.url).content.decode()
    assert verification.reference in form_page and "Priya Sharma" in form_page
    bad = parent.post(response.url, {"form": SimpleUploadedFile("x.txt", b"hello", "text/plain")})
    assert bad.status_code == 400 and "PDF, PNG or JPEG" in bad.content.decode()
    parent.post(response.url, {"form": SimpleUploadedFile("signed.png", PNG, "image/png")})
    verification.refresh_from_db()
    assert verification.state == "submitted" and len(verification.evidence_sha256) == 64
    assert off(device) == "no_consent"  # not before it is checked

    support = login(family.support)
    assert verification.reference in support.get("/support/consents/").content.decode()
    assert support.get(f"/support/consents/{verification.reference}/file/").content == PNG
    refused = support.post(f"/support/consents/{verification.reference}/", {"decision": "reject", "note": ""})
    assert refused.status_code == 400  # a rejection says why
    support.post(f"/support/consents/{verification.reference}/", {"decision": "approve", "note": ""})
    verification.refresh_from_db()
    assert verification.state == "approved" and verification.form_bytes is None  # the scan is gone
    records = Consent.objects.filter(child=child, withdrawn_at__isnull=True)
    assert {(r.purpose, r.notice_version, r.method, r.verified_by_id, r.signer_name) for r in records} == {
        (p, consent.NOTICE_VERSION, "signed_form", family.support.pk, "Priya Sharma") for p in ("collection", "llm")}
    assert off(device, learning=True) == ""


def test_withdraw_keep_paused_stops_memory_at_once_and_keeps_memories(family, toy, gw, login):
    kept = _memory(family.child_a, family.device_a, "Rahul likes kites")
    accepted = toy.post(api_url(family.device_a.mac, "conversations"), {"messages": SESSION},
                        content_type="application/json").json()
    response = login(family.parent_a).post(f"/children/{family.child_a.pk}/consent/withdraw/",
                                           {"what": "all", "choice": "keep_paused"})
    assert response.status_code == 302
    assert toy.get(api_url(family.device_a.mac, "memory-context")).json()["reason"] == "paused"
    family.child_a.refresh_from_db()
    assert family.child_a.memory_paused
    assert gw.get(kept.id) is not None
    conversations.conversation_extract(accepted["id"])  # was waiting for the worker: dropped
    done = Conversation.objects.get(pk=accepted["id"])
    assert done.state == "dropped" and done.messages == []
    assert consent.consent_missing(family.child_a) == "no_consent"
    # unpausing does not bring memory back: consent is needed again
    services.child_update(actor=family.parent_a, child=family.child_a, memory_paused=False)
    assert toy.get(api_url(family.device_a.mac, "memory-context")).json()["reason"] == "no_consent"


def test_withdraw_and_erase_needs_the_name_then_erases_with_a_receipt(family, gw, login):
    _memory(family.child_a, family.device_a, "Rahul likes kites")
    parent = login(family.parent_a)
    url = f"/children/{family.child_a.pk}/consent/withdraw/"
    assert parent.post(url, {"what": "all", "choice": "erase", "confirmation": "rahul"}).status_code == 400
    assert consent.consent_missing(family.child_a) == ""  # nothing withdrawn by the failed try
    response = parent.post(url, {"what": "all", "choice": "erase", "confirmation": "Rahul"})
    reference = response.url.rstrip("/").rsplit("/", 1)[-1]
    done = erasure.erasure_run(erasure.erasure_for(family.parent_a, reference).pk)
    assert done.state == "done" and done.origin == "consent_withdrawn" and done.receipt["counts"]["memories"] >= 1
    assert gw.count([family.child_a.namespace], exclude_kinds=["child_profile"]) == 0
    assert "Receipt" in parent.get(response.url).content.decode()


def test_withdrawing_only_the_llm_provider_stops_learning_not_recall(family, toy):
    memory_services.memory_add(actor=family.parent_a, child=family.child_a, text="Rahul likes kites")
    from memories import lifecycle

    assert lifecycle.consent_withdraw(actor=family.parent_a, child=family.child_a, purposes=["llm"],
                                      choice="erase") is None  # no erase for the LLM alone
    config = toy.get(api_url(family.device_a.mac, "config")).json()["memory"]
    assert config["enabled"] and config["learning_reason"] == "no_llm_consent"
    assert len(toy.get(api_url(family.device_a.mac, "memory-context")).json()["items"]) == 1


def test_support_sees_consent_state_never_contents(family, login, gw):
    _memory(family.child_a, family.device_a, "Rahul hides his secret zqx-marker under the bed")
    page = login(family.support).get(f"/support/households/{family.household_a.pk}/").content.decode()
    assert "The toy remembers what the child tells it" in page and "given" in page
    assert "zqx-marker" not in page


def test_access(family, login):
    url = f"/children/{family.child_a.pk}/consent/"
    assert login(family.parent_b).get(url).status_code == 404
    assert login(family.support).get(url).status_code == 403
    assert login(family.parent_a).get("/support/consents/").status_code == 403
    verification = consent.consent_request(actor=family.parent_a, child=family.child_a, signer_name="Parent A",
                                           purposes=["collection"])
    assert login(family.parent_b).get(f"/consent/{verification.reference}/").status_code == 404


def test_on_the_platform_the_profile_waits_for_its_consent(family, newcomer, settings):
    from devices.models import ProfileSync
    from memories import gateway, sync
    from memories.gateway import PlatformGateway
    from tests.fakes.mem0_platform import FakeMem0Platform

    child, _device = newcomer
    consent.consent_record(child=child, purposes=["collection", "llm"], signer_name="Parent A",
                           granted_by=family.parent_a, method="signed_form", verified_by=family.support)
    fake, local = FakeMem0Platform().start(), gateway.get()
    try:
        settings.MEM0_API_KEY, settings.MEM0_HOST = fake.api_key, fake.url
        gateway.reset_for_tests(PlatformGateway())
        sync.child_push(child)
        assert not [m for m in fake.memories.values() if m.get("user_id") == child.namespace]
        queued = ProfileSync.objects.filter(child=child).count()
        consent.consent_record(child=child, purposes=["collection", "llm", "mem0_platform"], signer_name="Parent A",
                               granted_by=family.parent_a, method="signed_form", verified_by=family.support)
        assert ProfileSync.objects.filter(child=child).count() == queued + 1  # the held-back push
        sync.child_push(child)
        assert [m for m in fake.memories.values() if m.get("user_id") == child.namespace]
    finally:
        gateway.reset_for_tests(local)
        fake.stop()
