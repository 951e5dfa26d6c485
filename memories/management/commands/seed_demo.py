"""Idempotent demo data for `make run`: one family, staff users, an agent, a child with a
device and a few things the toy remembers."""

import os
from datetime import date

from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand
from django.db import transaction

from devices import consent, services, tokens, toys
from devices.models import Agent, ChildProfile, Device, DeviceToken, Household
from memories import gateway
from portal.access import ADMIN_GROUP, SUPPORT_GROUP

DEMO_MEMORIES = [
    "Rahul likes dinosaurs, especially the T-rex",
    "Rahul's best friend at school is Arjun",
    "Rahul goes to football practice on Saturdays",
    "Rahul is learning to count to 100",
    "Rahul felt sad when his goldfish Bubbles died",
    "Rahul calls his grandmother Nani",
]


class Command(BaseCommand):
    help = "Create the demo family, staff users and memories (safe to run again)."

    def handle(self, *args, **options):
        password = os.environ.get("DEMO_PASSWORD", "toy-memories-2026")
        with transaction.atomic():
            users = {}
            for email, first in (("parent@demo.test", "Priya"), ("parent2@demo.test", "Vikram"),
                                 ("support@demo.test", "Sam"), ("admin@demo.test", "Alex")):
                user, created = User.objects.get_or_create(username=email, defaults={"email": email,
                                                                                      "first_name": first})
                if created:
                    user.set_password(password)
                    user.save()
                users[email] = user
            Group.objects.get_or_create(name=SUPPORT_GROUP)[0].user_set.add(users["support@demo.test"])
            Group.objects.get_or_create(name=ADMIN_GROUP)[0].user_set.add(users["admin@demo.test"])
            admin = users["admin@demo.test"]
            if not admin.is_staff:
                admin.is_staff = admin.is_superuser = True
                admin.save()

            agent = Agent.objects.filter(name="Buddy").first() or services.agent_save(
                actor=admin, name="Buddy", note="Initial prompt",
                system_prompt="You are Buddy, a kind robot friend for a child.\n{{child_profile}}",
                memory_prompt=("Keep the child's interests, friends' first names, routines and feelings. "
                               "Never keep addresses, phone numbers, school names or health details."),
            )
            household = Household.objects.filter(name="The Sharma family").first()
            if household is None:
                household = services.household_create(name="The Sharma family", owner=users["parent@demo.test"])
                household.memberships.create(user=users["parent2@demo.test"])
            child = ChildProfile.objects.filter(household=household, name="Rahul").first() or services.child_create(
                actor=users["parent@demo.test"], household=household, name="Rahul", birth_date=date(2017, 5, 10),
                gender="boy", interests=["dinosaurs", "football", "space"], toy_note="calls grandma Nani",
            )
            if not ChildProfile.objects.filter(household=household, name="Meera").exists():
                services.child_create(actor=users["parent@demo.test"], household=household, name="Meera",
                                      birth_date=date(2021, 2, 14), interests=["drawing", "songs"])
            for kid in household.children.all():  # the demo family's signed form, checked by support
                if consent.consent_missing(kid, learning=True):
                    consent.consent_record(child=kid, purposes=consent.offered_purposes(), signer_name="Priya Sharma",
                                           granted_by=users["parent@demo.test"], method=consent.SignedForm.key,
                                           verified_by=users["support@demo.test"])
            device = Device.objects.filter(mac="aa:bb:cc:00:00:01").first()
            if device is None:  # paired as a family would: the toy server asks, the parent types the code
                server = DeviceToken.objects.filter(name="Demo toy server", is_fleet=True).first() or \
                    tokens.token_create(actor=admin, name="Demo toy server", fleet=True)[0]
                _, code = toys.pairing_code_issue(token=server, mac="AA-BB-CC-00-00-01", agent=agent)
                device = toys.pairing_claim(actor=users["parent@demo.test"], household=household, code=code,
                                            child=child, name="Rahul's robot")
        gw = gateway.get()
        if gw.count([child.namespace], exclude_kinds=[gateway.PROFILE_KIND]) == 0:
            for text in DEMO_MEMORIES:
                gw.add(child.namespace, text, {"source": "demo", "device_id": str(device.pk)})
        self.stdout.write(self.style.SUCCESS("Demo data ready."))
