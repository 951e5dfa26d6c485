"""A family's life in a real browser (375 px): sign up → verify the address → add a child →
consent (signed form; support checks it with their second factor) → pair a toy by its code →
see its first memory; withdraw consent; close the account and read the receipt. Emails are
read from Django's outbox."""

import re
from datetime import timedelta

from django.core import mail
from django.test import Client
from playwright.sync_api import expect

from devices import tokens
from devices.models import ConsentVerification, Device, Household
from memories import conversations, lifecycle
from memories.models import Conversation
from tests.conftest import PASSWORD
from tests.memories import conftest_api
from tests.memories.conftest_api import api_url

fake_llm, llm = conftest_api.fake_llm, conftest_api.llm

EMAIL = "journey.parent@example.test"
STRONG = "a-very-Long-passphrase-77"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def toy_server(family):
    _, raw = tokens.token_create(actor=family.admin, name="Journey server", fleet=True)
    return Client(headers={"Authorization": f"Bearer {raw}"})


def test_sign_up_verify_consent_pair_and_see_the_first_memory(family, gw, llm, browser, page, live_server,
                                                              tmp_path):
    page.goto("/accounts/login/")
    page.get_by_role("link", name="Create an account").click()
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password", exact=True).fill(STRONG)
    page.get_by_label("Password (again)").fill(STRONG)
    page.get_by_role("button", name="Create the account").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    link = re.search(r"https?://[^/\s]+(/accounts/confirm-email/\S+)", mail.outbox[-1].body).group(1)
    page.goto(link)
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("heading", name="Your children")).to_be_visible()

    page.get_by_role("link", name="Add a child").click()
    page.get_by_label("Name").fill("Leo")
    page.get_by_label("Birth date").fill("2019-04-01")
    page.get_by_role("button", name="Save").click()
    page.get_by_role("link", name="Consent for Leo").click()
    expect(page.get_by_text("What the toy remembers, and who sees it")).to_be_visible()
    page.get_by_label("Your full name").fill("Jo Journey")
    page.get_by_role("button", name="Continue to the signed form").click()
    reference = ConsentVerification.objects.get(child__name="Leo").reference
    expect(page.get_by_text(reference).first).to_be_visible()
    form = tmp_path / "signed.png"
    form.write_bytes(PNG)
    page.get_by_label("The signed form").set_input_files(str(form))
    page.get_by_role("button", name="Upload the signed form").click()
    expect(page.get_by_text("We check the form")).to_be_visible()

    # Support checks the form in their own browser, with their second factor.
    support = browser.new_context(base_url=live_server.url).new_page()
    support.goto("/accounts/login/")
    support.get_by_label("Email").fill(family.support.username)
    support.get_by_label("Password").fill(PASSWORD)
    support.get_by_role("button", name="Log in").click()
    from tests.conftest import totp_code

    support.get_by_label("Code").fill(totp_code())
    support.get_by_role("button", name="Sign In").click()
    support.goto("/support/consents/")
    support.get_by_role("link", name=reference).click()
    support.get_by_label("Decision").select_option("approve")
    support.get_by_role("button", name="Save the decision").click()
    expect(support.get_by_text(f"{reference} decided.")).to_be_visible()
    support.context.close()

    # The toy asks its server for a code; the parent types it.
    mac = "0a:1b:2c:3d:4e:5f"
    server = toy_server(family)
    code = server.post(api_url(mac, "pairing-code"), {"agent_id": family.agent.pk},
                       content_type="application/json").json()["code"]
    page.goto("/")
    page.get_by_role("link", name="Add a toy").first.click()
    page.get_by_label("The 6-digit code").fill(code)
    page.get_by_label("Child").select_option(label="Leo")
    page.get_by_label("Name").fill("Leo's robot")
    page.get_by_role("button", name="Add the toy").click()
    row = page.get_by_role("row", name=re.compile("Leo's robot"))
    expect(row).to_contain_text("On")

    # Leo talks to the toy; the worker's extraction (here in-process, with the LLM stand-in).
    said = server.post(api_url(mac, "conversations"), {"messages": [
        {"role": "user", "content": "My kite is called Zephyr"}, {"role": "assistant", "content": "Lovely!"}]},
        content_type="application/json").json()
    assert said["state"] == "pending", said
    conversations.conversation_extract(said["id"])
    assert Conversation.objects.get(pk=said["id"]).state == "done"
    child = Device.objects.get(mac=mac).child
    page.goto(f"/children/{child.pk}/memories/")
    expect(page.locator("p.memory-text", has_text="My kite is called Zephyr")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375


def test_withdraw_consent_keep_paused(family, gw, page, log_in):
    server = toy_server(family)
    log_in(family.parent_a, PASSWORD)
    page.goto(f"/children/{family.child_a.pk}/consent/")
    page.get_by_role("link", name="Withdraw consent…").click()
    page.get_by_label("Everything: the toy stops remembering now").check()
    page.get_by_label("Memories kept, memory paused").check()
    page.get_by_role("button", name="Withdraw consent").click()
    expect(page.get_by_text("Consent withdrawn")).to_be_visible()
    expect(page.get_by_text("Withdrawn").first).to_be_visible()
    context = server.get(api_url(family.device_a.mac, "memory-context")).json()
    assert context["enabled"] is False and context["reason"] == "paused"


def test_close_the_account_then_read_the_receipt(family, gw, page, log_in):
    gw.add(family.child_a.namespace, "Rahul likes kites", {"kind": "learned"})
    log_in(family.parent_a, PASSWORD)
    page.get_by_role("link", name="Household").click()
    page.get_by_role("link", name="How long memories are kept, and closing the account").click()
    page.get_by_label("Type Family A to confirm").fill("Family A")
    page.get_by_role("button", name="Close the account").click()
    expect(page.get_by_role("heading", name="This household is closed")).to_be_visible()
    expect(page.get_by_role("link", name="Export Rahul's memories")).to_be_visible()
    notice = mail.outbox[-1]
    assert "Download a final copy" in notice.body and family.parent_a.email in notice.to

    household = Household.objects.get(pk=family.household_a.pk)
    assert lifecycle.households_sweep(now=household.erase_after + timedelta(seconds=1))["erased"] == 1
    receipt = mail.outbox[-1]
    reference = re.search(r"ER-[A-Z0-9]{4}-[A-Z0-9]{4}", receipt.subject).group(0)
    page.goto(f"/household/privacy/erasures/{reference}/")
    expect(page.get_by_role("heading", name="Receipt")).to_be_visible()
    assert gw.count([family.child_a.namespace]) == 0
