"""Support desk pages, the refusals support meets, admin pages and the admin site."""

from datetime import timedelta

from django.contrib.auth.models import User
from django.urls import NoReverseMatch, get_resolver, reverse
from django.utils import timezone

from memories import deletion
from memories.models import DeletionRequest
from portal.access import Role, role_of
from portal.models import AuditEvent

State = DeletionRequest.State


def _export_urls(child_id: int) -> list[str]:
    """Whatever export routes the memory pages have (another engineer's; names may change)."""
    memories = get_resolver().namespace_dict["memories"][1]
    urls = []
    for name in [n for n in memories.reverse_dict if isinstance(n, str) and "export" in n]:
        try:
            urls.append(reverse(f"memories:{name}", kwargs={"child_id": child_id}))
        except NoReverseMatch:  # needs more than the child
            continue
    return urls


def test_support_is_refused_a_childs_memories_and_exports_and_it_is_audited(family, gw, login):
    gw.add(family.device_a.namespace, "Rahul's secret: a blue dragon", {})
    client = login(family.support)
    urls = [reverse("memories:list", args=[family.child_a.pk]), reverse("child_detail", args=[family.child_a.pk]),
            *_export_urls(family.child_a.pk)]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 403, url
        assert b"blue dragon" not in response.content
        assert AuditEvent.objects.filter(action="access.refused", actor=family.support, detail__path=url).exists()


def test_the_queue_sorts_by_due_date_and_highlights_overdue(family, login, django_assert_max_num_queries):
    old = deletion.request_create(actor=family.support, household=family.household_a, scope="household",
                                  channel="phone", received_at=timezone.now() - timedelta(days=40))
    new = deletion.request_create(actor=family.parent_b, household=family.household_b, scope="child",
                                  child=family.child_b)
    client = login(family.support)
    with django_assert_max_num_queries(9):  # the first page of a session checks the second factor
        body = client.get(reverse("support:queue")).content.decode()
    assert body.index(f"#{old.pk}<") < body.index(f"#{new.pk}<")
    assert body.count('class="overdue"') == 1 and "Overdue" in body


def test_the_queue_costs_the_same_queries_for_many_requests(family, login, django_assert_num_queries):
    client = login(family.support)
    client.get(reverse("support:queue"))  # warm the session
    deletion.request_create(actor=family.parent_a, household=family.household_a, scope="household")
    with django_assert_num_queries(5) as one:
        client.get(reverse("support:queue"))
    deletion.request_create(actor=family.parent_b, household=family.household_b, scope="household")
    with django_assert_num_queries(len(one.captured_queries)):
        client.get(reverse("support:queue"))


def test_support_walks_a_request_through_the_states(family, login):
    req = deletion.request_create(actor=family.parent_a, household=family.household_a, scope="child",
                                  child=family.child_a)
    client = login(family.support)
    detail = reverse("support:request_detail", args=[req.pk])
    assert "Signed in to the portal" in client.get(detail).content.decode()
    bad = client.post(reverse("support:request_verify", args=[req.pk]), {"identity_check": ""})
    assert bad.status_code == 400 and "This field is required" in bad.content.decode()
    assert client.post(reverse("support:request_schedule", args=[req.pk])).status_code == 400  # not verified yet
    response = client.post(reverse("support:request_verify", args=[req.pk]), {"identity_check": "Called back"})
    assert response.status_code == 302
    htmx = client.post(reverse("support:request_schedule", args=[req.pk]), HTTP_HX_REQUEST="true")
    assert htmx.status_code == 200 and "<html" not in htmx.content.decode() and 'data-state="scheduled"' in htmx.content.decode()
    req.refresh_from_db()
    assert req.state == State.SCHEDULED and req.verified_by == family.support


def test_support_logs_a_request_received_by_phone(family, login):
    client = login(family.support)
    url = reverse("support:request_log", args=[family.household_a.pk])
    form = client.get(url)
    assert form.status_code == 200 and "Rahul" in form.content.decode()
    future = client.post(url, {"channel": "phone", "received_on": "2999-01-01", "scope": "household"})
    assert future.status_code == 200 and "future" in future.content.decode()
    response = client.post(url, {"channel": "phone", "received_on": timezone.localdate().isoformat(),
                                 "scope": "child", "child": family.child_a.pk,
                                 "identity_check": "Asked for the toy MAC and the child's birth date"})
    req = DeletionRequest.objects.get(household=family.household_a)
    assert response.status_code == 302 and req.state == State.VERIFIED and req.channel == "phone"
    assert req.verified_by == family.support and req.child == family.child_a


def test_household_lookup_shows_names_never_memories_or_profiles(family, gw, login):
    gw.add(family.device_a.namespace, "Rahul's secret: a blue dragon", {})
    client = login(family.support)
    found = client.get(reverse("support:households"), {"q": family.device_a.mac.upper()}).content.decode()
    assert "Family A" in found and "Family B" not in found
    page = client.get(reverse("support:household_detail", args=[family.household_a.pk])).content.decode()
    assert "Rahul" in page and family.device_a.mac in page and "child.create" in page
    for private in ("blue dragon", "2017", "games", "science", "male"):
        assert private not in page, private


def test_admin_assigns_roles_and_only_admins_are_staff(family, login):
    client = login(family.admin)
    assert "support@example.test" in client.get(reverse("staff:users")).content.decode()
    client.post(reverse("staff:user_role", args=[family.parent_b.pk]), {"role": "support"})
    user = User.objects.get(pk=family.parent_b.pk)
    assert role_of(user) == Role.SUPPORT and not user.is_staff
    client.post(reverse("staff:user_role", args=[family.parent_b.pk]), {"role": "admin"})
    user = User.objects.get(pk=family.parent_b.pk)
    assert role_of(user) == Role.ADMIN and user.is_staff
    client.post(reverse("staff:user_role", args=[family.parent_b.pk]), {"role": "parent"})
    user = User.objects.get(pk=family.parent_b.pk)
    assert role_of(user) == Role.PARENT and not user.is_staff
    client.post(reverse("staff:user_role", args=[family.admin.pk]), {"role": "parent"})  # no self-demotion
    assert role_of(User.objects.get(pk=family.admin.pk)) == Role.ADMIN
    assert AuditEvent.objects.filter(action="role.assign").count() == 3


def test_settings_status_page(family, login):
    body = login(family.admin).get(reverse("staff:settings")).content.decode()
    assert "Local (mem0 on pgvector)" in body and "Reachable" in body and "LLM" in body


def test_only_admins_reach_the_django_admin(family, login, client):
    assert client.get("/admin/").status_code == 302
    for user in (family.support, family.parent_a):
        user.is_staff = True  # even a stray staff flag does not open it
        user.save()
        assert login(user).get("/admin/").status_code == 403
        assert login(user).get("/admin/login/").status_code == 403
    assert login(family.admin).get("/admin/").status_code == 200
