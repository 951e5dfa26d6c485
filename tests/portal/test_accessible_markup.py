"""The markup of the parent's pages, as a screen reader meets it (issue 12, point 7): every
``aria-describedby`` points at an id on the page, radio groups sit in a fieldset with a
legend, and links or buttons that repeat (one per memory, per member…) do not all read the
same. The browser journeys run axe-core on top of this (tests/browser/conftest.py)."""

from html.parser import HTMLParser

import pytest
from django.urls import reverse

from memories import services

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Page(HTMLParser):
    """Ids, describedby references, radios with their fieldset/legend, and the accessible
    text of every link and button (visible text plus visually hidden text)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.described: list[tuple[str, str]] = []
        self.radios: list[tuple[str, bool]] = []
        self.controls: list[tuple[str, str, str]] = []  # (tag, target, name)
        self.stack: list[dict] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        for ref in (attrs.get("aria-describedby") or "").split():
            self.described.append((f"<{tag} name={attrs.get('name')}>", ref))
        if tag == "input" and attrs.get("type") == "radio":
            fieldset = next((e for e in reversed(self.stack) if e["tag"] == "fieldset"), None)
            self.radios.append((attrs.get("name", ""), bool(fieldset and fieldset["legend"])))
        if tag == "legend":
            fieldset = next((e for e in reversed(self.stack) if e["tag"] == "fieldset"), None)
            if fieldset:
                fieldset["legend"] = True
        if tag in VOID:
            return
        self.stack.append({"tag": tag, "attrs": attrs, "text": [], "legend": False})

    def handle_endtag(self, tag):
        while self.stack:
            element = self.stack.pop()
            if element["tag"] in ("a", "button"):
                name = element["attrs"].get("aria-label") or " ".join("".join(element["text"]).split())
                target = element["attrs"].get("href") or element["attrs"].get("formaction") or ""
                if element["tag"] == "button":  # in context: the name of the group it is in
                    group = next((e for e in reversed(self.stack) if e["attrs"].get("role") == "group"), None)
                    name = f"{group['attrs'].get('aria-label', '')}: {name}" if group else name
                    form = next((e for e in reversed(self.stack) if e["tag"] == "form"), None)
                    target = (form["attrs"].get("action", "") if form else "") + f"?{element['attrs'].get('value', '')}"
                self.controls.append((element["tag"], target, name))
            if element["tag"] == tag:
                break

    def handle_data(self, data):
        for element in self.stack:
            if element["tag"] in ("a", "button"):
                element["text"].append(data)


def parse(response) -> Page:
    assert response.status_code in (200, 400, 422), response.status_code
    page = Page()
    page.feed(response.content.decode())
    return page


def problems(page: Page) -> list[str]:
    found = [f"{where} aria-describedby={ref!r}: no element has that id" for where, ref in page.described
             if ref not in page.ids]
    found += [f"radio group {name!r} is not in a fieldset with a legend" for name, ok in page.radios if not ok]
    targets: dict[str, set[str]] = {}
    for _tag, target, name in page.controls:
        targets.setdefault(name, set()).add(target)
    found += [f"{len(t)} links or buttons all read {name!r} but do different things" for name, t in targets.items()
              if len(t) > 1 and name]
    return found


@pytest.fixture
def parent_pages(family, gw, login):
    for text in ("Rahul loves pizza", "Rahul's best friend is Arjun"):
        services.memory_add(actor=family.parent_a, child=family.child_a, device=family.device_a, text=text)
    family.household_a.invitations.create(email="grandma@example.test", token_hash="x" * 64,
                                          expires_at="2099-01-01T00:00Z")
    child, device = family.child_a.pk, family.device_a.pk
    return login(family.parent_a), [
        reverse("home"), reverse("child_detail", args=[child]), reverse("child_edit", args=[child]),
        reverse("child_add"), reverse("device_add"), reverse("device_assign", args=[device]),
        reverse("household:detail"), reverse("memories:list", args=[child]), reverse("memories:add", args=[child]),
        reverse("memories:export", args=[child]), reverse("memories:delete_all", args=[child]),
        reverse("memories:activity"), reverse("privacy:overview"), reverse("privacy:deletion_new"),
        reverse("password_change"),
    ]


def test_parent_pages_have_no_dangling_references_or_unlabelled_groups(parent_pages):
    client, urls = parent_pages
    found = {url: problems(parse(client.get(url))) for url in urls}
    assert not {url: p for url, p in found.items() if p}


def test_forms_with_errors_describe_their_fields_with_ids_that_exist(family, login):
    client = login(family.parent_a)
    posts = [
        (reverse("child_edit", args=[family.child_a.pk]), {"name": "", "birth_date": "x", "interests": "a"}),
        (reverse("device_add"), {"mac": "zz", "name": "x"}),
        (reverse("privacy:deletion_new"), {"scope": "", "child": ""}),
        (reverse("password_change"), {"old_password": "no"}),
    ]
    found = {}
    for url, data in posts:
        page = parse(client.post(url, data))
        assert page.described, f"{url}: the fields with errors describe nothing"
        found[url] = problems(page)
    assert not {url: p for url, p in found.items() if p}
