"""Pages with a child's data, job pages, export downloads and API answers are never stored
by a browser or a proxy (``Cache-Control: no-store``): a shared computer's back button or
disk cache must not show a child's memories after logout."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from memories import exports
from memories.models import Job
from tests.memories import conftest_api
from tests.memories.conftest_api import api_url

fleet, toy = conftest_api.fleet, conftest_api.toy


def _no_store(response) -> bool:
    return "no-store" in response.get("Cache-Control", "")


@pytest.mark.parametrize("name, args", [
    ("home", lambda f, x: []),
    ("child_detail", lambda f, x: [f.child_a.pk]),
    ("memories:list", lambda f, x: [f.child_a.pk]),
    ("memories:export", lambda f, x: [f.child_a.pk]),
    ("memories:job", lambda f, x: [x.job.pk]),
    ("memories:activity", lambda f, x: []),
    ("household:detail", lambda f, x: []),
    ("privacy:overview", lambda f, x: []),
    ("privacy:deletion_detail", lambda f, x: [x.request.pk]),
])
def test_a_parents_pages_are_not_stored(family, extras, login, name, args):
    response = login(family.parent_a).get(reverse(name, args=args(family, extras)))
    assert response.status_code == 200
    assert _no_store(response), response.get("Cache-Control")


def test_htmx_partials_are_not_stored_either(family, login):
    response = login(family.parent_a).get(reverse("memories:list", args=[family.child_a.pk]), HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and _no_store(response)


def test_the_support_desk_is_not_stored(family, extras, login):
    response = login(family.support).get(reverse("support:request_detail", args=[extras.request.pk]))
    assert response.status_code == 200 and _no_store(response)


def test_an_export_download_is_not_stored(family, login):
    name = exports.write_file(family.child_a, "json")
    job = Job.objects.create(kind=Job.Kind.EXPORT_JSON, household=family.household_a, child=family.child_a,
                             created_by=family.parent_a, state=Job.State.DONE, file_path=name,
                             expires_at=timezone.now() + timedelta(hours=1))
    response = login(family.parent_a).get(reverse("memories:download", args=[job.pk]))
    assert response.status_code == 200 and _no_store(response)
    b"".join(response.streaming_content)
    exports.export_file_delete(name)


def test_api_answers_are_not_stored(family, toy):
    response = toy.get(api_url(family.device_a.mac, "memory-context"))
    assert response.status_code == 200 and _no_store(response)
