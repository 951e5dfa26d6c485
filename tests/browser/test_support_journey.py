"""The support journey in a real browser: a parent asks for deletion, support verifies,
schedules and executes it (the real Celery worker), the parent reads the receipt."""

import re
import secrets

import pytest
from playwright.sync_api import expect

from memories.models import DeletionRequest
from tests.conftest import PASSWORD


def _log_out(page):
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(re.compile(r"/accounts/login/"))


@pytest.mark.worker
def test_parent_request_support_executes_parent_sees_receipt(family, gw, worker, page, log_in):
    marker = f"zq{secrets.token_hex(6)}"
    first = gw.add(family.device_a.namespace, f"Rahul's {marker} dragon is called Blue", {})
    errors = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)

    # The parent asks.
    log_in(family.parent_a, PASSWORD)
    page.get_by_role("link", name="Your data").click()
    page.get_by_role("link", name="Ask for deletion…").click()
    page.get_by_label("One child's data").check()
    page.get_by_label("Child", exact=True).select_option(label="Rahul")
    page.get_by_label("I understand that deleted memories cannot be recovered").check()
    page.get_by_role("button", name="Send the request").click()
    expect(page.get_by_text(re.compile(r"Request #\d+ received"))).to_be_visible()
    req = DeletionRequest.objects.get(household=family.household_a)
    _log_out(page)

    # Support verifies, schedules and executes.
    log_in(family.support, PASSWORD)
    expect(page.get_by_role("heading", name="Deletion requests")).to_be_visible()
    page.get_by_role("link", name=f"#{req.pk}", exact=True).click()
    expect(page.get_by_text("Signed in to the portal as parent.a@example.test")).to_be_visible()
    page.get_by_label("How did you check who is asking?").fill("Called the parent back on the account's number")
    page.get_by_role("button", name="Mark verified").click()
    page.get_by_role("button", name="Schedule").click()
    expect(page.get_by_text("This cannot be undone")).to_be_visible()
    page.get_by_role("button", name="Execute the deletion now").click()  # the box is required: nothing happens
    expect(page.locator("[data-state]")).to_have_attribute("data-state", "scheduled")
    page.get_by_label("I checked who asked and what they asked for: erase it now").check()
    page.get_by_role("button", name="Execute the deletion now").click()
    expect(page.locator("[data-state]")).to_have_attribute("data-state", "completed", timeout=90_000)
    expect(page.get_by_text("Zero memories remain in every store")).to_be_visible()
    assert marker not in page.content()
    _log_out(page)

    # The parent reads the receipt.
    log_in(family.parent_a, PASSWORD)
    page.get_by_role("link", name="Your data").click()
    page.get_by_role("link", name=f"#{req.pk}", exact=True).click()
    receipt = page.locator("#receipt")
    expect(receipt).to_contain_text(f"Request #{req.pk} was completed")
    expect(receipt).to_contain_text("The memories themselves")
    req.refresh_from_db()
    assert req.state == DeletionRequest.State.COMPLETED and req.receipt["counts"]["memories"] >= 1
    traces = gw.traces(family.device_a.namespace, marker=marker, memory_ids=[first.id])
    assert not any(traces.values()), traces
    assert not [e for e in errors if "Content Security Policy" in e], errors
