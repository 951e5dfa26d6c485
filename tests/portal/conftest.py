"""Household A's objects beyond the shared personas, for the route sweep and the desk."""

from dataclasses import dataclass

import pytest
from django.urls import reverse

from devices import services
from memories import deletion
from memories.models import Job


@dataclass
class Extras:
    membership_a2: object
    invitation: object
    token: str
    request: object
    job: object


@pytest.fixture
def extras(family):
    tokens = []
    invitation = services.invitation_create(
        actor=family.parent_a, household=family.household_a, email="grandma@example.test",
        accept_url=lambda raw: tokens.append(raw) or reverse("household:join", args=[raw]))
    request = deletion.request_create(actor=family.parent_a, household=family.household_a, scope="child",
                                      child=family.child_a)
    job = Job.objects.create(kind=Job.Kind.EXPORT_JSON, household=family.household_a, child=family.child_a,
                             created_by=family.parent_a)
    return Extras(membership_a2=family.household_a.memberships.get(user=family.parent_a2), invitation=invitation,
                  token=tokens[0], request=request, job=job)
