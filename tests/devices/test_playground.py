"""The memory prompt playground: real Mem0 extraction (LLM stand-in) in a throw-away
namespace, the memories shown, then nothing left behind."""

import secrets

import pytest
from django.urls import reverse

from memories import playground
from portal.errors import ApplicationError

pytestmark = pytest.mark.django_db
STRICT = "Keep interests and friends' first names; never keep addresses, phone numbers or school names."


def playground_rows(gw, marker: str = "") -> dict:
    """Anything of any playground namespace (or with the marker), in every store."""
    with gw._cursor() as cur:
        cur.execute(f"SELECT count(*) FROM \"{gw.collection}\" WHERE payload->>'user_id' LIKE 'playground-%%'")
        vectors = cur.fetchone()[0]
        cur.execute(f"SELECT count(*) FROM \"{gw.tables.messages}\" WHERE user_id LIKE 'playground-%%'")
        messages = cur.fetchone()[0]
        cur.execute(f"SELECT count(*) FROM \"{gw.tables.history}\" WHERE new_memory LIKE %s OR old_memory LIKE %s",
                    [f"%{marker}%", f"%{marker}%"])
        history = cur.fetchone()[0] if marker else 0
    return {"vectors": vectors, "messages": messages, "history": history}


def test_the_draft_prompt_decides_what_is_kept_and_nothing_stays(family, login, llm, gw):
    response = login(family.admin).post(reverse("playground:run", args=[family.agent.pk]),
                                        {"prompt": STRICT, "sample": "friends", "conversation": ""})
    assert response.status_code == 200
    result = response.context["result"]
    assert "User says: Today I played football with my friend Arjun at the park." in result.memories
    assert "User says: Arjun did. My dog Biscuit chased the ball too." in result.memories
    assert not [m for m in result.memories if "Rose Street" in m or "School" in m]
    assert "friend Arjun" in response.content.decode()
    assert result.leftover == {"vectors": 0, "entities": 0, "messages": 0, "history": 0}
    assert STRICT in llm.user_prompts()[-1]
    assert playground_rows(gw) == {"vectors": 0, "messages": 0, "history": 0}


def test_a_looser_prompt_keeps_more(family, llm):
    loose = playground.playground_run(actor=family.admin, agent=family.agent, prompt="Keep everything.",
                                      conversation=playground.SAMPLES["friends"][1])
    assert [m for m in loose.memories if "Rose Street" in m]


def test_pasted_conversation_and_htmx_partial(family, login, llm, gw):
    marker = f"zq{secrets.token_hex(6)}"
    response = login(family.admin).post(
        reverse("playground:run", args=[family.agent.pk]),
        {"prompt": "", "conversation": f"child: I love volcanoes called {marker}\ntoy: Me too!\nand rockets"},
        headers={"HX-Request": "true"})
    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html and 'id="playground-result"' in html
    assert f"User says: I love volcanoes called {marker}" in html
    assert playground_rows(gw, marker) == {"vectors": 0, "messages": 0, "history": 0}


def test_bad_samples_are_refused(family, login, llm):
    client = login(family.admin)
    for text in ("", "just some words", "toy: Hello!"):
        response = client.post(reverse("playground:run", args=[family.agent.pk]), {"conversation": text})
        assert response.status_code == 200 and response.context["result"] is None
        assert response.context["form"].errors["conversation"]
    assert not llm.requests


def test_without_an_llm_the_page_says_so(family, login, settings):
    settings.LLM_BASE_URL = ""
    settings.MEM0_API_KEY = ""
    client = login(family.admin)
    page = client.get(reverse("playground:run", args=[family.agent.pk]))
    assert "No LLM is configured" in page.content.decode()
    response = client.post(reverse("playground:run", args=[family.agent.pk]), {"sample": "bedtime"})
    assert response.context["result"] is None
    assert "No LLM is configured" in " ".join(response.context["form"].non_field_errors())
    with pytest.raises(ApplicationError):
        playground.playground_run(actor=family.admin, agent=family.agent, prompt="",
                                  conversation=playground.SAMPLES["bedtime"][1])


def test_playground_is_for_admins_only(family, client):
    url = reverse("playground:run", args=[family.agent.pk])
    assert client.post(url, {"sample": "friends"})["Location"].startswith("/accounts/login/")
    for user in (family.parent_a, family.support):
        client.force_login(user)
        assert client.post(url, {"sample": "friends"}).status_code == 403
