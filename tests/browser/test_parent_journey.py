"""A parent on a phone (375 px): find a memory by search, correct it, rate it 🚫, export
JSON, delete everything."""

import json

import pytest
from playwright.sync_api import expect

from memories import services
from tests.conftest import PASSWORD


@pytest.mark.worker
def test_parent_reviews_and_erases_what_the_toy_remembers(family, gw, worker, log_in, page):
    for text in ("Rahul is scared of thunderstorms", "Rahul's best friend is Arjun", "Rahul loves pizza"):
        services.memory_add(actor=family.parent_a, child=family.child_a, device=family.device_a, text=text)
    log_in(family.parent_a, PASSWORD)
    page.goto(f"/children/{family.child_a.pk}/memories/")

    page.get_by_label("Search", exact=True).fill("afraid of storms")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_text("Semantic search")).to_be_visible()
    card = page.locator("ul.memories > li").first
    expect(card).to_contain_text("thunderstorms")

    card.get_by_role("link", name="Edit").click()
    page.get_by_label("What the toy remembers").fill("Rahul is scared of thunder, not rain")
    page.get_by_role("button", name="Save").click()
    card = page.locator("ul.memories > li", has_text="not rain")
    expect(card).to_contain_text("Saved")

    card.get_by_label("Reason (optional)").fill("he is over it")
    card.get_by_role("button", name="🚫 Never use").click()
    expect(page.locator("ul.memories > li", has_text="not rain").get_by_role("button", name="🚫 Never use")
           ).to_have_attribute("aria-pressed", "true")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375

    page.get_by_role("link", name="Export (JSON, CSV)").click()
    with page.expect_download() as download:
        page.get_by_role("button", name="Export JSON").click()
    data = json.loads(open(download.value.path(), encoding="utf-8").read())
    assert data["memory_count"] >= 3 and any(m["rating"] and m["rating"]["rating"] == "VERY_NEGATIVE"
                                              for m in data["memories"])

    page.goto(f"/children/{family.child_a.pk}/memories/")
    page.get_by_role("link", name="Delete everything…").click()
    page.get_by_label("Type Rahul to confirm").fill("Rahul")
    page.get_by_role("button", name="Delete everything").click()
    expect(page.get_by_text("nothing of those memories is kept")).to_be_visible(timeout=60_000)
    expect(page.get_by_role("progressbar", name="Progress")).to_have_attribute("value", "100")
    assert not [m for m in gw.list([family.device_a.namespace]).items if m.kind != "child_profile"]
