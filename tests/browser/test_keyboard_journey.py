"""A parent with the keyboard only (Tab, Enter, Space, arrows), on a phone-sized page audited
by axe-core: log in, open a child at a glance, find a memory by meaning, rate it 🚫, correct
another, and switch the language. Every stop shows where the focus is."""

from playwright.sync_api import expect

from memories import services
from tests.conftest import PASSWORD

MAX_TABS = 200


def tab_to(page, target, *, backwards: bool = False):
    """Press Tab until ``target`` has the focus (fails after MAX_TABS), then check that the
    focus can be seen (the :focus-visible outline)."""
    key = "Shift+Tab" if backwards else "Tab"
    for _ in range(MAX_TABS):
        page.keyboard.press(key)
        if target.evaluate("el => el === document.activeElement"):
            outline = target.evaluate("el => getComputedStyle(el).outlineStyle")
            assert outline != "none", "the focused element shows no outline"
            return target
    raise AssertionError(f"Tab never reached {target}")


def test_a_parent_does_the_main_tasks_with_the_keyboard_only(transactional_db, family, gw, page):
    for text in ("Rahul is scared of thunderstorms", "Rahul's best friend is Arjun", "Rahul loves pizza"):
        services.memory_add(actor=family.parent_a, child=family.child_a, device=family.device_a, text=text)

    page.goto("/accounts/login/")
    expect(page.get_by_label("Email")).to_be_focused()  # autofocus
    page.keyboard.type(family.parent_a.username)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Your children")).to_be_visible()

    page.keyboard.press("Tab")  # the first stop skips the navigation
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()

    tab_to(page, page.get_by_role("link", name="Rahul", exact=True))
    page.keyboard.press("Enter")
    tab_to(page, page.get_by_role("link", name="At a glance"))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="What the toy knows about Rahul")).to_be_visible()
    expect(page.get_by_role("img", name="3 memories learned in the last 12 weeks")).to_be_visible()

    tab_to(page, page.get_by_role("link", name="Review every memory"))
    page.keyboard.press("Enter")
    tab_to(page, page.get_by_label("Search", exact=True))
    page.keyboard.type("afraid of storms")
    page.keyboard.press("Enter")
    expect(page.get_by_text("Semantic search")).to_be_visible()
    card = page.locator("ul.memories > li", has_text="thunderstorms")

    tab_to(page, card.get_by_role("button", name="🚫 Never use"))
    page.keyboard.press("Space")
    card = page.locator("ul.memories > li", has_text="thunderstorms")
    expect(card.get_by_role("button", name="🚫 Never use")).to_have_attribute("aria-pressed", "true")
    page.axe.check("after rating")

    page.goto(f"/children/{family.child_a.pk}/memories/")
    pizza = page.locator("ul.memories > li", has_text="pizza")
    tab_to(page, pizza.get_by_role("link", name="Edit"))
    page.keyboard.press("Enter")
    field = page.get_by_label("What the toy remembers")
    tab_to(page, field, backwards=True) if not field.evaluate("el => el === document.activeElement") else None
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.type("Rahul loves pizza with olives")
    tab_to(page, page.get_by_role("button", name="Save"))
    page.keyboard.press("Enter")
    expect(page.locator("ul.memories > li", has_text="olives")).to_contain_text("Saved")

    switch = page.get_by_label("Language")
    tab_to(page, switch)
    page.keyboard.press("ArrowDown")  # English → हिन्दी
    tab_to(page, page.get_by_role("button", name="Change language"))
    page.keyboard.press("Enter")
    expect(page.locator("html")).to_have_attribute("lang", "hi")
