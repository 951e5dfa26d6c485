"""English, Hindi and Simplified Chinese for the parent pages and emails: every string marked
for translation has both translations (locale/*.po, compiled by `make install`), the pages
come in the browser's or the chosen language, and a page in Hindi or Chinese has no English
sentence of ours left (children's memories and names stay as written)."""

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from memories import digest, services
from portal.models import Preferences

ROOT = Path(__file__).resolve().parents[2]
LANGUAGES = {"hi": re.compile(r"[\u0900-\u097F]"), "zh-hans": re.compile(r"[\u4e00-\u9fff]")}


def po_entries(path: Path) -> list[tuple[str, list[str]]]:
    """(msgid, msgstrs) of a .po file, the header left out."""
    entries, msgid, strs, key = [], None, [], None
    for line in path.read_text(encoding="utf-8").splitlines() + [""]:
        match = re.match(r'(msgid|msgid_plural|msgstr(?:\[\d\])?) (".*")$', line)
        if match:
            key = match.group(1)
            if key == "msgid":
                if msgid:
                    entries.append((msgid, strs))
                msgid, strs = "", []
            if key.startswith("msgstr"):
                strs.append("")
            value = eval(match.group(2))  # a C-style quoted string, as Python reads it
            if key == "msgid":
                msgid += value
            elif key == "msgid_plural":  # kept with the singular: "<singular>\x00<plural>"
                msgid += "\x00" + value
            elif key.startswith("msgstr"):
                strs[-1] += value
        elif line.startswith('"') and key:
            value = eval(line)
            if key in ("msgid", "msgid_plural"):
                msgid += value
            elif key.startswith("msgstr"):
                strs[-1] += value
    if msgid:
        entries.append((msgid, strs))
    return entries


@pytest.mark.parametrize("locale", ["hi", "zh_Hans"])
def test_every_marked_string_is_translated(locale):
    entries = po_entries(ROOT / "locale" / locale / "LC_MESSAGES" / "django.po")
    assert len(entries) > 400
    untranslated = [msgid for msgid, strs in entries if not all(s.strip() for s in strs)]
    assert not untranslated
    placeholders = re.compile(r"%\(\w+\)s")
    wrong = [msgid for msgid, strs in entries
             if not set(placeholders.findall(strs[-1])) <= set(placeholders.findall(msgid)) | {"%(counter)s"}]
    assert not wrong, "a translation uses a placeholder the English does not have"


class VisibleText(HTMLParser):
    """The page's text a person reads, without children's memories (class memory-text),
    scripts, the language names of the switch, and form values."""

    SKIP = {"script", "style", "option", "textarea", "code", "pre"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, bool]] = []
        self.chunks: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in ("input", "br", "img", "meta", "link", "hr"):
            return
        skip = tag in self.SKIP or "memory-text" in (dict(attrs).get("class") or "")
        self.stack.append((tag, skip or any(s for _t, s in self.stack)))

    def handle_endtag(self, tag):
        while self.stack:
            if self.stack.pop()[0] == tag:
                break

    def handle_data(self, data):
        if not any(s for _t, s in self.stack) and data.strip():
            self.chunks.append(data.strip())


def english_sentences(html: str, allowed: set[str]) -> list[str]:
    parser = VisibleText()
    parser.feed(html)
    found = []
    for chunk in parser.chunks:
        for word_run in re.findall(r"[A-Za-z]{2,}(?:[ ,'’-]+[A-Za-z]{2,}){2,}", chunk):
            if not any(word_run in a for a in allowed):
                found.append(word_run)
    return found


@pytest.fixture
def parent_pages(family, gw):
    record = services.memory_add(actor=family.parent_a, child=family.child_a, device=family.device_a,
                                 text="Rahul loves pizza with olives", category="routines")
    services.memory_rate(actor=family.parent_a, child=family.child_a, memory_id=record.id, rating="VERY_NEGATIVE")
    child = family.child_a.pk
    return [reverse("home"), reverse("child_detail", args=[child]), reverse("memories:glance", args=[child]),
            reverse("memories:list", args=[child]), reverse("memories:add", args=[child]),
            reverse("memories:export", args=[child]), reverse("memories:delete_all", args=[child]),
            reverse("memories:detail", args=[child, record.id]), reverse("memories:activity"),
            reverse("household:detail"), reverse("privacy:overview"), reverse("privacy:deletion_new"),
            reverse("account"), reverse("child_edit", args=[child]), reverse("toys:list"),
            reverse("consent:child", args=[child]), reverse("keeping:page"),
            reverse("memories:toy_earlier", args=[family.device_a.pk])]


@pytest.mark.parametrize("language", ["hi", "zh-hans"])
def test_parent_pages_in_hindi_and_chinese_keep_no_english_sentence(language, family, parent_pages, client):
    Preferences.objects.create(user=family.parent_a, language=language, time_zone="Asia/Kolkata")
    client.force_login(family.parent_a)
    allowed = {"Rahul", "Robot", "Family", "Buddy", "games, sports, science", family.parent_a.email, family.parent_a2.email,
               "Rahul loves pizza with olives", "Late Elementary", "Asia/Kolkata",
               settings.LLM_PROVIDER_NAME}  # the operator's name for its provider
    found = {}
    for url in parent_pages:
        response = client.get(url)
        assert response.status_code == 200 and response["Content-Language"] == language, url
        body = response.content.decode()
        assert LANGUAGES[language].search(body), url
        left = english_sentences(body, allowed)
        if left:
            found[url] = left
    assert not found


def test_the_browser_language_picks_the_login_page_language(client):
    body = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9,en;q=0.5").content.decode()
    assert "登录" in body and '<html lang="zh-hans">' in body


def test_the_digest_comes_in_the_parents_language(family, gw):
    from datetime import UTC, timedelta

    services.memory_add(actor=family.parent_a, child=family.child_a, text="Rahul likes kites")
    Preferences.objects.create(user=family.parent_a, language="hi", time_zone="UTC", digest_weekly=True)
    now = timezone.now().astimezone(UTC).replace(hour=9, minute=0, second=0, microsecond=0)
    now += timedelta(days=(7 - now.weekday()) % 7 or 7)
    assert digest.digest_send(family.parent_a.pk, now=now)
    (message,) = mail.outbox
    assert message.subject == "इस हफ़्ते: खिलौनों ने क्या सीखा" and "नमस्ते" in message.body


def test_the_invitation_and_password_reset_emails_come_in_the_senders_language(
        family, client, django_capture_on_commit_callbacks):
    Preferences.objects.create(user=family.parent_a, language="zh-hans")
    client.force_login(family.parent_a)
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(reverse("household:invite"), {"email": "grandma@example.test"}).status_code == 302
    (invitation,) = mail.outbox
    assert invitation.subject == "您受邀加入记忆门户" and "接受邀请" in invitation.body
    client.logout()
    mail.outbox.clear()
    client.post(reverse("password_reset"), {"email": family.parent_b.email}, HTTP_ACCEPT_LANGUAGE="hi")
    (reset,) = mail.outbox
    assert reset.subject == "अपना मेमोरी पोर्टल पासवर्ड रीसेट करें" and "नया पासवर्ड यहाँ चुनें" in reset.body


@pytest.mark.parametrize("language", ["hi", "zh-hans"])
def test_signing_up_in_hindi_and_chinese_keeps_no_english_sentence(language, client, db):
    """The sign-up page (and its errors), the page asking to check the email, the
    confirmation email and the page its link opens: all in the browser's language."""
    email, strong = "new.parent@example.test", "a-very-Long-passphrase-77"
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = language
    pages = {"signup": client.get(reverse("account_signup")).content.decode(),
             "mismatch": client.post(reverse("account_signup"), {
                 "email": email, "password1": strong, "password2": strong + "x"}).content.decode()}
    response = client.post(reverse("account_signup"), {"email": email, "password1": strong, "password2": strong},
                           follow=True)
    pages["verification_sent"] = response.content.decode()
    (message,) = mail.outbox
    link = re.search(r"https?://[^/\s]+(/accounts/confirm-email/[^\s]+)", message.body).group(1)
    pages["email_confirm"] = client.get(link).content.decode()
    pages["expired"] = client.get(reverse("account_confirm_email", args=["not-a-key"])).content.decode()
    pages["email"] = f"<p>{message.subject}</p><pre></pre><p>{message.body}</p>"
    for name, body in pages.items():
        assert LANGUAGES[language].search(body), name
    found = {name: left for name, body in pages.items() if (left := english_sentences(body, {email}))}
    assert not found


def test_the_closing_notice_and_receipt_come_in_each_parents_language(
        family, gw, django_capture_on_commit_callbacks):
    from memories import lifecycle

    Preferences.objects.create(user=family.parent_a, language="hi")
    Preferences.objects.create(user=family.parent_a2, language="zh-hans")
    with django_capture_on_commit_callbacks(execute=True):
        household = lifecycle.household_close(actor=family.parent_a, household=family.household_a)
    notices = {message.to[0]: message for message in mail.outbox}
    assert set(notices) == {family.parent_a.email, family.parent_a2.email}
    hindi, chinese = notices[family.parent_a.email], notices[family.parent_a2.email]
    assert LANGUAGES["hi"].search(hindi.subject) and LANGUAGES["hi"].search(hindi.body)
    assert LANGUAGES["zh-hans"].search(chinese.subject) and LANGUAGES["zh-hans"].search(chinese.body)
    for message in (hindi, chinese):
        assert not english_sentences(f"<p>{message.subject}</p><p>{message.body}</p>", {"Family A"})
    mail.outbox.clear()
    assert lifecycle.households_sweep(now=household.erase_after)["receipts"] == 1
    receipts = {message.to[0]: message for message in mail.outbox}
    assert LANGUAGES["hi"].search(receipts[family.parent_a.email].body)
    assert LANGUAGES["zh-hans"].search(receipts[family.parent_a2.email].body)
    for message in receipts.values():
        assert not english_sentences(f"<p>{message.subject}</p><p>{message.body}</p>", {"Family A"})
