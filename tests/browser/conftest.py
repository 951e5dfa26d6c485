"""Real-browser journeys: Debian's chromium driven by Playwright (no downloaded browser)."""

import json
import os
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
INSTALL_HINT = "install Debian's browser with `apt-get install chromium` (CI does this in .ci/run)"

# Playwright's sync API runs an event loop in this thread; the ORM calls the tests make
# around it are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "tests/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        if os.environ.get("PORTAL_REQUIRE_BROWSER"):
            pytest.fail(f"chromium not found at {CHROMIUM}: {INSTALL_HINT}")
        pytest.skip(f"chromium not found: {INSTALL_HINT}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        )
        yield browser
        browser.close()


# axe-core from npm (`npm install axe-core`, then vendor/axe-core/axe.min.js copied in; its
# LICENSE beside it), never from a CDN. It is put into every page by the browser itself (an
# init script, so the pages' Content-Security-Policy stays as strict as in production).
AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
AXE_FAILS = ("serious", "critical")
AXE_HELPER = """
window.__axeAudit = function () {
  const run = () => axe.run(document, {resultTypes: ["violations"]}).then(r => r.violations
    .filter(v => %s.includes(v.impact))
    .map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 5).map(n => n.target.join(" "))})));
  window.__axeChain = (window.__axeChain || Promise.resolve()).then(run, run);
  return window.__axeChain;
};
document.addEventListener("htmx:afterSettle", function () {
  clearTimeout(window.__axeSwap);
  window.__axeSwap = setTimeout(function () {
    window.__axeAudit().then(v => window.__axeReport && window.__axeReport(location.pathname + " (after htmx)", v));
  }, 50);
});
""".replace("%s", json.dumps(list(AXE_FAILS)))


class AxeAudit:
    """Runs axe on every page a journey loads (and after each htmx swap); the test fails at
    its end on any serious or critical violation, listed with the page and the elements."""

    def __init__(self, page):
        self.page = page
        self.pages: list[str] = []
        self.found: dict[str, list] = {}

    def record(self, where: str, violations: list) -> None:
        self.pages.append(where)
        if violations:
            self.found.setdefault(where, []).extend(violations)

    def on_load(self, page) -> None:
        try:
            self.record(urlsplit(page.url).path, page.evaluate("() => window.__axeAudit()"))
        except Exception as exc:  # the page was left before axe finished: the next one is audited
            if "destroyed" not in str(exc) and "navigat" not in str(exc):
                raise

    def check(self, label: str = "") -> None:
        """Audit the page as it is now (journeys call it after an interaction that changes it)."""
        self.record(f"{urlsplit(self.page.url).path}{f' ({label})' if label else ''}",
                    self.page.evaluate("() => window.__axeAudit()"))

    def assert_clean(self) -> None:
        assert self.pages, "axe audited no page"
        assert not self.found, "axe-core found serious or critical violations:\n" + "\n".join(
            f"{where}: {v['impact']} {v['id']} ({v['help']}) at {', '.join(v['nodes'])}"
            for where, violations in self.found.items() for v in violations)


def open_page(browser, base_url: str, width: int = 375, height: int = 800, **options):
    context = browser.new_context(base_url=base_url, viewport={"width": width, "height": height}, **options)
    context.add_init_script(script=AXE.read_text(encoding="utf-8") + AXE_HELPER)
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.axe = AxeAudit(page)
    context.expose_binding("__axeReport", lambda _source, where, violations: page.axe.record(where, violations))
    page.on("load", page.axe.on_load)
    return page


@pytest.fixture
def page(browser, live_server):
    """A phone-sized page (375 px), audited by axe-core on every page it visits."""
    page = open_page(browser, live_server.url)
    yield page
    page.context.close()
    page.axe.assert_clean()


def log_in_as(page, user, password):
    """Log in (by the fields' ids: the labels follow the page's language)."""
    page.goto("/accounts/login/")
    page.locator("#id_username").fill(user.username)
    page.locator("#id_password").fill(password)
    page.locator("main form button[type=submit]").click()
    page.wait_for_load_state()
    if "/accounts/2fa/authenticate/" in page.url:  # staff: the authenticator app's code
        from tests.conftest import totp_code

        page.get_by_label("Code").fill(totp_code())
        page.get_by_role("button", name="Sign In").click()
        page.wait_for_load_state()
    return page


@pytest.fixture
def log_in(page):
    def _log_in(user, password):
        return log_in_as(page, user, password)

    return _log_in
