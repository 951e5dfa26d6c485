"""htmx and full pages from the same URL: a history restore gets the whole page, and every
answer says it varies on HX-Request (so no cache hands a fragment to a page load)."""

import pytest
from django.urls import reverse

from memories.models import Job

HTMX = {"HX-Request": "true"}
RESTORE = {"HX-Request": "true", "HX-History-Restore-Request": "true"}


def _is_page(response) -> bool:
    return b"<html" in response.content


def test_a_history_restore_of_the_memory_list_gets_the_whole_page(family, remember, login):
    """Back after htmx pushed a filtered list URL, with no snapshot: htmx swaps the whole body."""
    remember("Rahul's kite is red")
    client = login(family.parent_a)
    url = reverse("memories:list", args=[family.child_a.pk]) + "?q=kite"
    swap = client.get(url, headers=HTMX)
    assert swap.status_code == 200 and not _is_page(swap)
    restore = client.get(url, headers=RESTORE)
    assert restore.status_code == 200 and _is_page(restore)
    assert "Rahul&#x27;s kite is red" in restore.content.decode()


def _urls(family, record, job):
    child = family.child_a.pk
    return {
        "list": reverse("memories:list", args=[child]),
        "detail": reverse("memories:detail", args=[child, record.id]),
        "history": reverse("memories:history", args=[child, record.id]),
        "edit": reverse("memories:edit", args=[child, record.id]),
        "job": reverse("memories:job", args=[job.pk]),
    }


@pytest.mark.parametrize("name", ["list", "detail", "history", "edit", "job"])
def test_pages_that_answer_a_partial_for_htmx_vary_on_hx_request(name, family, remember, login):
    record = remember("Rahul plays chess on Sundays")
    job = Job.objects.create(kind=Job.Kind.EXPORT_JSON, household=family.household_a, child=family.child_a,
                             created_by=family.parent_a)
    url = _urls(family, record, job)[name]
    client = login(family.parent_a)
    for headers in ({}, HTMX, RESTORE):
        response = client.get(url, headers=headers)
        assert response.status_code == 200, (name, headers)
        assert _is_page(response) == (headers is not HTMX), (name, headers)
        vary = [v.strip().lower() for v in response.get("Vary", "").split(",")]
        assert "hx-request" in vary, (name, headers, response.get("Vary"))
