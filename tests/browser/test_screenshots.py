"""Screenshots of the main parent pages, desktop (1280 px) and phone (375 px), written to
docs/screenshots/ (README, "Screenshots") so a reviewer can look without running anything.
Every page is audited by axe-core on the way, and none is wider than the screen."""

from pathlib import Path

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from memories import services
from memories.models import MemoryUsage
from portal.models import Preferences
from tests.browser.conftest import log_in_as, open_page
from tests.conftest import PASSWORD

SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
WIDTHS = {"desktop": (1280, 900), "phone": (375, 800)}
TEXTS = [("Rahul is scared of thunderstorms", "feelings"), ("Rahul's best friend is Arjun", "family_friends"),
         ("Rahul loves pizza with olives", "routines"), ("Rahul builds rockets out of paper", "interests"),
         ("Rahul is allergic to peanuts", "health_safety"), ("Rahul is learning times tables", "school_learning")]


def _seed(family):
    records = [services.memory_add(actor=family.parent_a, child=family.child_a, device=family.device_a, text=text,
                                   category=category) for text, category in TEXTS]
    services.memory_rate(actor=family.parent_a, child=family.child_a, memory_id=records[2].id,
                         rating="VERY_NEGATIVE", reason="He does not like olives any more")
    services.memory_rate(actor=family.parent_a, child=family.child_a, memory_id=records[1].id, rating="POSITIVE")
    MemoryUsage.objects.create(memory_id=records[0].id, namespace=family.child_a.namespace, device=family.device_a,
                               count=3, last_used_at=records[0].created_at)
    Preferences.objects.update_or_create(user=family.parent_a, defaults={"time_zone": "Asia/Kolkata"})
    return records


@pytest.fixture
def shot_pages(browser, live_server):
    opened = []

    def _open(width: int, height: int, locale: str = "en-GB"):
        page = open_page(browser, live_server.url, width, height, locale=locale)
        opened.append(page)
        return page

    yield _open
    for page in opened:
        page.context.close()
    for page in opened:
        page.axe.assert_clean()


def _shoot(page, name: str, size: str) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"], name
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / f"{name}-{size}.png", full_page=True, animations="disabled")


def test_screenshots_of_the_main_parent_pages(transactional_db, family, gw, shot_pages):
    records = _seed(family)
    child = family.child_a.pk
    pages = [
        ("children", reverse("home")),
        ("child", reverse("child_detail", args=[child])),
        ("at-a-glance", reverse("memories:glance", args=[child])),
        ("memories", reverse("memories:list", args=[child])),
        ("memory-history", reverse("memories:history", args=[child, records[2].id])),
        ("activity", reverse("memories:activity")),
        ("household", reverse("household:detail")),
        ("your-data", reverse("privacy:overview")),
        ("account", reverse("account")),
    ]
    for size, (width, height) in WIDTHS.items():
        page = shot_pages(width, height)
        page.goto("/accounts/login/")
        _shoot(page, "login", size)
        log_in_as(page, family.parent_a, PASSWORD)
        for name, url in pages:
            page.goto(url)
            expect(page.locator("main h1")).to_be_visible()
            _shoot(page, name, size)
    for language in ("hi", "zh-hans"):  # the same pages in the other languages, phone-sized
        page = shot_pages(*WIDTHS["phone"], locale=language)
        log_in_as(page, family.parent_a, PASSWORD)
        for name, url in pages[2:4]:
            page.goto(url)
            expect(page.locator("html")).to_have_attribute("lang", language)
            _shoot(page, f"{name}-{language}", "phone")
