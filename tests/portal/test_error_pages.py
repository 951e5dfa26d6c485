"""Refused, missing and broken pages are the portal's own, with the navigation and a way
back, in every mode (DEBUG included: ``make run`` must not show Django's debug pages to a
parent); and an htmx action or a form whose session or CSRF token has expired recovers as a
whole page that comes back to where the parent was."""

from urllib.parse import parse_qs, urlsplit

import pytest
from django.http import HttpResponse
from django.test import Client
from django.urls import include, path, reverse

from portal import urls as portal_urls
from tests.conftest import PASSWORD


def _boom(request):
    raise RuntimeError("boom")


urlpatterns = [path("boom/", _boom), path("", include("portal.urls"))]
handler403, handler404, handler500 = (getattr(portal_urls, f"handler{n}", None) for n in (403, 404, 500))


def _styled(response) -> str:
    html = response.content.decode()
    assert "Using the URLconf" not in html and "Traceback" not in html and "CSRF verification" not in html
    assert '<header class="top">' in html
    assert "Go to the start page" in html or "Log in" in html
    return html


@pytest.mark.parametrize("debug", [False, True])
def test_a_missing_page_is_styled_with_the_navigation(debug, family, login, settings):
    settings.DEBUG = debug
    client = login(family.parent_a)
    for url in ("/no-such-page/", reverse("memories:list", args=[family.child_b.pk])):  # unknown URL, stranger
        response = client.get(url, HTTP_REFERER="http://testserver/")
        assert response.status_code == 404, url
        html = _styled(response)
        assert "This page does not exist" in html and 'href="/household/"' in html  # the parent's navigation
        assert "← Back to the previous page" in html


@pytest.mark.parametrize("debug", [False, True])
def test_a_refused_page_is_styled_with_the_navigation(debug, family, login, settings):
    settings.DEBUG = debug
    response = login(family.parent_a).get(reverse("support:queue"))
    assert response.status_code == 403
    html = _styled(response)
    assert "You cannot open this page" in html and "Log out" in html


def test_anonymous_visitors_get_a_login_link(db, client, settings):
    settings.DEBUG = True
    response = client.get("/no-such-page/")
    assert response.status_code == 404 and "Log in" in _styled(response)


@pytest.mark.parametrize("debug", [False, True])
def test_a_crash_is_styled_for_parents(debug, family, settings):
    settings.DEBUG = debug
    settings.ROOT_URLCONF = __name__
    client = Client(raise_request_exception=False)
    client.force_login(family.parent_a)
    response = client.get("/boom/")
    assert response.status_code == 500
    html = _styled(response)
    assert "Something went wrong on our side" in html and "boom" not in html


def test_staff_keep_the_debug_pages_under_debug(family, login, settings):
    settings.DEBUG = True
    response = login(family.admin).get("/no-such-page/")
    assert response.status_code == 404 and "Using the URLconf" in response.content.decode()


def test_the_api_keeps_its_json_errors(db, client):
    response = client.get("/api/v1/no-such-route/")
    assert response.status_code == 404 and response["Content-Type"].startswith("application/json")


# -- a session that ends during an htmx action ---------------------------------------------

@pytest.fixture
def remember(family, gw):
    from memories import services

    def _remember(text):
        return services.memory_add(actor=family.parent_a, child=family.child_a, device=family.device_a, text=text)

    return _remember


def _next(url: str) -> str:
    return parse_qs(urlsplit(url).query)["next"][0]


def test_an_htmx_action_after_the_session_ended_sends_the_whole_page_to_login(family, remember, client):
    record = remember("Rahul collects shells")
    page = reverse("memories:list", args=[family.child_a.pk]) + "?q=shells"
    response = client.post(reverse("memories:rate", args=[family.child_a.pk, record.id]), {"rating": "POSITIVE"},
                           headers={"HX-Request": "true", "HX-Current-URL": f"http://testserver{page}"})
    assert response.status_code == 200 and response.content == b""
    assert urlsplit(response["HX-Redirect"]).path == reverse("login") and _next(response["HX-Redirect"]) == page

    # Logging in from there lands on the page the parent was on (not a 405 on the POST URL).
    landed = client.post(response["HX-Redirect"], {"username": family.parent_a.username, "password": PASSWORD},
                         follow=True)
    assert landed.status_code == 200 and landed.redirect_chain[-1][0] == page
    assert "Rahul collects shells" in landed.content.decode()


def test_an_htmx_partial_fetched_after_the_session_ended(family, remember, client):
    record = remember("Rahul collects shells")
    page = reverse("memories:list", args=[family.child_a.pk])
    response = client.get(reverse("memories:edit", args=[family.child_a.pk, record.id]),
                          headers={"HX-Request": "true", "HX-Current-URL": f"http://testserver{page}"})
    assert _next(response["HX-Redirect"]) == page


def test_a_plain_form_after_the_session_ended_comes_back_to_its_page(family, remember, client):
    record = remember("Rahul collects shells")
    page = reverse("memories:list", args=[family.child_a.pk])
    response = client.post(reverse("memories:rate", args=[family.child_a.pk, record.id]), {"rating": "POSITIVE"},
                           HTTP_REFERER=f"http://testserver{page}")
    assert response.status_code == 302 and _next(response["Location"]) == page


def test_a_page_after_the_session_ended_keeps_djangos_next(db, client):
    response = client.get("/household/?tab=members")
    assert response.status_code == 302 and _next(response["Location"]) == "/household/?tab=members"


def test_next_never_points_to_another_site(family, remember, client):
    record = remember("Rahul collects shells")
    response = client.post(reverse("memories:rate", args=[family.child_a.pk, record.id]), {"rating": "POSITIVE"},
                           headers={"HX-Request": "true", "HX-Current-URL": "https://evil.example/steal"})
    assert _next(response["HX-Redirect"]) == "/"


# -- a CSRF token that expired --------------------------------------------------------------

def _csrf_client(user) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


@pytest.mark.parametrize("debug", [False, True])
def test_an_htmx_post_with_a_stale_csrf_token_reloads_the_page(debug, family, remember, settings):
    settings.DEBUG = debug
    record = remember("Rahul collects shells")
    page = reverse("memories:list", args=[family.child_a.pk])
    client = _csrf_client(family.parent_a)
    response = client.post(
        reverse("memories:rate", args=[family.child_a.pk, record.id]), {"rating": "POSITIVE"},
        headers={"HX-Request": "true", "HX-Current-URL": f"http://testserver{page}", "X-CSRFToken": "stale"})
    assert response.status_code == 200 and response["HX-Redirect"] == page
    assert "The page was open too long, so it has been reloaded" in client.get(page).content.decode()


@pytest.mark.parametrize("debug", [False, True])
def test_a_plain_form_with_a_stale_csrf_token_gets_a_page_that_leads_back(debug, family, remember, settings):
    settings.DEBUG = debug
    record = remember("Rahul collects shells")
    page = reverse("memories:list", args=[family.child_a.pk])
    response = _csrf_client(family.parent_a).post(
        reverse("memories:rate", args=[family.child_a.pk, record.id]), {"rating": "POSITIVE"},
        HTTP_REFERER=f"http://testserver{page}")
    assert response.status_code == 403
    html = _styled(response)
    assert "This page was open too long" in html and f'href="{page}"' in html


def test_a_login_form_without_a_csrf_cookie_gets_a_page_that_leads_back(db, settings):
    settings.DEBUG = True
    login = reverse("login") + "?next=/household/"
    response = Client(enforce_csrf_checks=True).post(login, {"username": "x", "password": "y"},
                                                     HTTP_REFERER=f"http://testserver{login}")
    assert response.status_code == 403 and "This page was open too long" in _styled(response)
    assert 'href="/accounts/login/?next=/household/"' in response.content.decode()


def test_handlers_answer_every_status(rf, db):
    from portal import error_views

    request = rf.get("/x/")
    request.user = type("Anon", (), {"is_authenticated": False, "is_staff": False})()
    for view, status in ((error_views.page_not_found, 404), (error_views.permission_denied, 403),
                         (error_views.server_error, 500)):
        response = view(request, None) if status != 500 else view(request)
        assert isinstance(response, HttpResponse) and response.status_code == status
