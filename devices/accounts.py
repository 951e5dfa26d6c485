"""django-allauth's account adapter: a parent who signs up gets a household of their own
(their username is their email address, as for every account here)."""

from allauth.account.adapter import DefaultAccountAdapter
from django.db import transaction
from django.utils.translation import gettext

from devices.services import household_create


class AccountAdapter(DefaultAccountAdapter):
    def populate_username(self, request, user):
        user.username = (user.email or "").strip().lower()

    @transaction.atomic
    def save_user(self, request, user, form, commit=True):
        user = super().save_user(request, user, form, commit=commit)
        if commit:
            local = user.email.split("@", 1)[0]
            household_create(name=f"{local}'s family"[:100], owner=user)
        return user

    def format_email_subject(self, subject):
        """allauth's emails (the address confirmation) begin with the portal's name, in the
        language the email is written in."""
        return gettext("[Memory portal] %(subject)s") % {"subject": subject}
