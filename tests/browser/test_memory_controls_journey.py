"""A parent's controls in a real browser, on a phone (375 px) and a desktop (1280 px), each
page audited by axe-core: delete with a confirmation and an undo window (a real worker
erases after it); search by meaning that lists only what is close; select all, bulk
rating and the never-use view; the memory switch; the profile's card; a session or a form
that expired during an htmx action recovers the whole page and comes back; styled error
pages; the irreversible actions of the household and the admin ask first; a new token is
shown once after a redirect, with a copy button."""

import re

import pytest
from playwright.sync_api import expect

from devices import services as device_services
from devices.models import DeviceToken
from memories import services, sync
from memories.management.commands.seed_demo import DEMO_MEMORIES
from tests.browser.conftest import log_in_as, open_page
from tests.conftest import PASSWORD, wait_for

WIDTHS = {"phone": 375, "desktop": 1280}


@pytest.fixture(params=list(WIDTHS))
def screen(request, browser, live_server):
    page = open_page(browser, live_server.url, WIDTHS[request.param], 900)
    yield page
    page.context.close()
    page.axe.assert_clean()


def _fits(page):
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]


def _remember(family, text):
    return services.memory_add(actor=family.parent_a, child=family.child_a, device=family.device_a, text=text)


def _card(page, text):
    return page.locator("ul.memories > li", has_text=text)


@pytest.mark.worker
def test_delete_asks_first_can_be_undone_and_then_runs_for_good(family, gw, worker, screen, settings):
    settings.MEMORY_DELETE_GRACE_SECONDS = 4
    texts = ["Rahul's den is under the stairs", "Rahul hums when he draws", "Rahul's kite is red"]
    memories = [_remember(family, text) for text in texts]
    log_in_as(screen, family.parent_a, PASSWORD)
    list_url = f"/children/{family.child_a.pk}/memories/"
    screen.goto(list_url)

    screen.get_by_label("Select all on this page").check()
    for text in texts:
        expect(_card(screen, text).get_by_label("Select")).to_be_checked()
    screen.get_by_role("button", name="Delete selected…").click()
    expect(screen.get_by_role("heading", name="Delete 3 memories?")).to_be_visible()
    expect(screen.get_by_text("deleted after 4 seconds; until then you can undo it")).to_be_visible()
    expect(screen.get_by_text(texts[0])).to_be_visible()
    _fits(screen)
    screen.get_by_role("button", name="Delete 3 memories").click()
    expect(screen.get_by_text(re.compile(r"3 memories will be deleted at"))).to_be_visible()
    expect(screen.locator("ul.memories .badge", has_text="Being deleted")).to_have_count(3)
    screen.axe.check("a delete in its undo window")
    screen.get_by_role("button", name=re.compile(r"^Undo")).first.click()
    expect(screen.get_by_text("Undone: nothing was deleted")).to_be_visible()
    expect(screen.locator("ul.memories .badge", has_text="Being deleted")).to_have_count(0)

    _card(screen, texts[2]).get_by_role("link", name=re.compile(r"^Delete…")).click()
    expect(screen.get_by_text("deleted 4 seconds after you confirm")).to_be_visible()
    screen.get_by_role("button", name="Delete", exact=True).click()
    expect(screen.get_by_text(re.compile(r"1 memory will be deleted at"))).to_be_visible()
    wait_for(lambda: gw.get(memories[2].id) is None, timeout=90)
    screen.goto(list_url)
    expect(_card(screen, texts[2])).to_have_count(0)
    assert all(gw.get(m.id) is not None for m in memories[:2])
    _fits(screen)


def test_search_switch_bulk_rating_never_use_and_the_profile(family, gw, screen):
    for text in [*DEMO_MEMORIES, "Rahul has a hamster called Coco"]:
        _remember(family, text)
    sync.child_push(family.child_a)
    log_in_as(screen, family.parent_a, PASSWORD)
    screen.goto(f"/children/{family.child_a.pk}/memories/")

    screen.get_by_label("Search", exact=True).fill("grandma")
    screen.get_by_role("button", name="Search").click()
    nani = _card(screen, "Rahul calls his grandmother Nani")
    expect(nani).to_be_visible()
    expect(nani.locator(".closeness")).to_have_text(re.compile(r"(Very close|Close) match"))
    expect(_card(screen, "hamster")).to_have_count(0)
    screen.get_by_label("Search", exact=True).fill("volcano eruption")
    screen.get_by_role("button", name="Search").click()
    expect(screen.get_by_text("Nothing the toy remembers about Rahul is close in meaning to “volcano eruption”")
           ).to_be_visible()
    screen.get_by_role("link", name="Clear").click()

    for text in ("hamster", "goldfish"):
        _card(screen, text).get_by_label("Select").check()
    screen.get_by_role("button", name="Selected: 🚫 Never use").click()
    expect(screen.get_by_text("2 memories rated 🚫 Never use.")).to_be_visible()
    screen.get_by_role("link", name="🚫 Never use").click()
    expect(screen.locator("ul.memories > li")).to_have_count(2)
    expect(screen.get_by_text("The toys are never given these memories")).to_be_visible()
    _fits(screen)

    screen.get_by_role("link", name="All memories").click()
    profile = screen.locator("ul.memories > li", has=screen.get_by_text("Profile", exact=True))
    expect(profile.get_by_role("link", name=re.compile("^Edit"))).to_have_count(0)
    profile.get_by_role("link", name="Change the profile").click()
    expect(screen).to_have_url(re.compile(rf"/children/{family.child_a.pk}/edit/$"))

    screen.goto(f"/children/{family.child_a.pk}/memories/")
    screen.get_by_role("button", name="Pause memory").click()
    expect(screen.get_by_text("The toys neither learn nor recall anything about Rahul")).to_be_visible()
    screen.axe.check("memory paused")
    screen.get_by_role("button", name="Turn memory back on").click()
    expect(screen.get_by_text("Memory is on again for Rahul.")).to_be_visible()
    family.child_a.refresh_from_db()
    assert not family.child_a.memory_paused


def test_an_expired_session_or_form_recovers_the_whole_page(family, gw, screen, settings):
    _remember(family, "Rahul collects shells")
    log_in_as(screen, family.parent_a, PASSWORD)
    list_url = f"/children/{family.child_a.pk}/memories/"
    screen.goto(list_url)

    screen.context.clear_cookies(name="sessionid")  # the session ended while the page was open
    _card(screen, "shells").get_by_role("button", name="👍 Right").click()
    expect(screen).to_have_url(re.compile(r"/accounts/login/\?next="))
    expect(screen.locator("ul.memories")).to_have_count(0)  # the whole page, not a login form in a card
    screen.get_by_label("Email").fill(family.parent_a.username)
    screen.get_by_label("Password").fill(PASSWORD)
    screen.get_by_role("button", name="Log in").click()
    expect(screen).to_have_url(re.compile(rf"{re.escape(list_url)}$"))  # back where the parent was
    expect(_card(screen, "shells")).to_be_visible()

    screen.context.clear_cookies(name="csrftoken")  # the form's token no longer matches
    _card(screen, "shells").get_by_role("button", name="👍 Right").click()
    expect(screen.get_by_text("The page was open too long, so it has been reloaded")).to_be_visible()
    right = _card(screen, "shells").get_by_role("button", name="👍 Right")
    expect(right).to_have_attribute("aria-pressed", "false")
    right.click()
    expect(_card(screen, "shells").get_by_role("button", name="👍 Right")).to_have_attribute("aria-pressed", "true")

    settings.DEBUG = True  # as under `make run`
    screen.goto("/no-such-page/")
    expect(screen.get_by_role("heading", name="This page does not exist")).to_be_visible()
    expect(screen.get_by_role("navigation", name="Main").get_by_role("link", name="Children")).to_be_visible()
    screen.goto("/support/")
    expect(screen.get_by_role("heading", name="You cannot open this page")).to_be_visible()
    _fits(screen)


def test_household_and_admin_actions_ask_first_and_a_token_is_shown_once(family, screen):
    log_in_as(screen, family.parent_a, PASSWORD)
    screen.goto("/household/")
    screen.get_by_role("link", name="Remove… parent.a2@example.test").click()
    expect(screen.get_by_role("heading", name="Remove parent.a2@example.test from Family A?")).to_be_visible()
    expect(screen.get_by_text("can no longer log in")).to_be_visible()
    screen.get_by_role("link", name="Cancel").click()
    expect(screen.get_by_text("parent.a2@example.test")).to_be_visible()
    screen.get_by_role("button", name="Log out").click()

    device_services.agent_save(actor=family.admin, agent=family.agent, memory_prompt="Keep everything.")
    log_in_as(screen, family.admin, PASSWORD)
    screen.goto("/staff/agents/tokens/")
    screen.get_by_label("Name").fill("Journey server")
    screen.get_by_label("Every device (fleet)").check()
    screen.get_by_role("button", name="Create token").click()
    expect(screen.get_by_text("Copy it now")).to_be_visible()
    raw = screen.locator("#new-token").inner_text().strip()
    screen.context.grant_permissions(["clipboard-read", "clipboard-write"])
    screen.get_by_role("button", name="Copy the token").click()
    expect(screen.get_by_role("button", name="Copied")).to_be_visible()
    assert screen.evaluate("navigator.clipboard.readText()") == raw
    screen.reload()
    expect(screen.get_by_text("Copy it now")).to_have_count(0)
    assert DeviceToken.objects.count() == 1

    screen.get_by_role("link", name="Revoke… the token Journey server").click()
    expect(screen.get_by_text("refused (401) from now on")).to_be_visible()
    screen.get_by_role("button", name="Revoke the token").click()
    expect(screen.get_by_text("revoked", exact=False).first).to_be_visible()
    assert DeviceToken.objects.get().revoked_at is not None

    screen.goto(f"/staff/agents/{family.agent.pk}/versions/")
    screen.get_by_role("link", name="Roll back to v1…").click()
    expect(screen.get_by_text("saved as a new version v3")).to_be_visible()
    screen.get_by_role("button", name="Roll back to v1").click()
    family.agent.refresh_from_db()
    assert family.agent.memory_prompt == "Keep interests and friends' first names."
    _fits(screen)
