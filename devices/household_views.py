"""A parent's household page: members and invitations (deletion requests and receipts are
the memories room's privacy pages).
Plus the invitation link (public: the token decides) that lets a second parent join."""

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model, login
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from devices import selectors, services
from devices.models import Membership
from portal.access import parent_required, public, role_of, scope_to_households
from portal.confirm import confirm_page, confirmed
from portal.errors import ApplicationError
from portal.forms import apply_error


class InviteForm(forms.Form):
    email = forms.EmailField(label=_("Email of the parent to invite"), max_length=254)


class JoinForm(forms.Form):
    password1 = forms.CharField(label=_("Choose a password"), widget=forms.PasswordInput(
        attrs={"autocomplete": "new-password"}), max_length=128)
    password2 = forms.CharField(label=_("The same password again"), widget=forms.PasswordInput(
        attrs={"autocomplete": "new-password"}), max_length=128)

    def clean(self):
        data = super().clean()
        if data.get("password1") and data.get("password1") != data.get("password2"):
            self.add_error("password2", "The two passwords differ.")
        return data


def _household_or_none(user):
    return selectors.households_for(user).first()


def _household(user):
    household = _household_or_none(user)
    if household is None:
        raise Http404("You are not a member of a household.")
    return household


def _detail_context(request, household, invite_form=None):
    return {
        "household": household,
        "memberships": household.memberships.select_related("user").order_by("created_at") if household else [],
        "invitations": household.invitations.filter(accepted_at__isnull=True).order_by("-created_at")
        if household else [],
        "invite_form": invite_form or InviteForm(),
    }


@require_GET
@parent_required
def detail(request):
    return render(request, "devices/household_detail.html", _detail_context(request, _household_or_none(request.user)))


@require_POST
@parent_required
def invite(request):
    household = _household(request.user)
    form = InviteForm(request.POST)
    if form.is_valid():
        try:
            services.invitation_create(
                actor=request.user, household=household, email=form.cleaned_data["email"],
                accept_url=lambda token: request.build_absolute_uri(reverse("household:join", args=[token])))
        except ApplicationError as exc:
            apply_error(form, exc)
        else:
            messages.success(request, _("Invitation sent to %(email)s.") % {"email": form.cleaned_data["email"]})
            return redirect("household:detail")
    return render(request, "devices/household_detail.html", _detail_context(request, household, form), status=400)


@require_POST
@parent_required
def invitation_revoke(request, invitation_id):
    household = _household(request.user)
    invitation = household.invitations.filter(pk=invitation_id).first()
    if invitation is None:
        raise Http404("No such invitation.")
    try:
        services.invitation_revoke(actor=request.user, invitation=invitation)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Invitation withdrawn."))
    return redirect("household:detail")


@require_http_methods(["GET", "POST"])
@parent_required
def member_remove(request, membership_id):
    membership = scope_to_households(Membership.objects.select_related("user", "household"), request.user).filter(
        pk=membership_id).first()
    if membership is None:
        raise Http404("No such member.")
    if not confirmed(request):
        who = membership.user.email or membership.user.username
        return confirm_page(request, title=f"Remove {who} from {membership.household.name}?", consequences=[
            f"{who} can no longer log in to see or change what the toys remember about your children.",
            "Their account stays; they lose access at once, including any page they have open.",
            "To give access back, you would send a new invitation.",
        ], button=f"Remove {who}", cancel=reverse("household:detail"))
    try:
        services.membership_remove(actor=request.user, membership=membership)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("%(who)s no longer has access.") % {"who": membership.user.email or membership.user.username})
    return redirect("household:detail")


def _accept(request, invitation, form) -> bool:
    """Accept as the logged-in user, or create the account from ``form``. True when joined."""
    if request.user.is_authenticated:
        services.invitation_accept(invitation=invitation, user=request.user)
        return True
    if form is None:
        raise ApplicationError("An account with this email exists: log in first.")
    if not form.is_valid():
        return False
    user = services.invitation_accept_new_user(invitation=invitation, password=form.cleaned_data["password1"])
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    return True


@require_http_methods(["GET", "POST"])
@public
def join(request, token):
    """The link in an invitation email: a logged-in parent accepts; a new person sets a
    password; someone with an account logs in first (and comes back here)."""
    invitation = services.invitation_lookup(token)
    if invitation is None or not invitation.is_usable:
        return render(request, "devices/household_join.html", {"unusable": True}, status=404)
    has_account = get_user_model().objects.filter(username__iexact=invitation.email).exists()
    form = None if request.user.is_authenticated or has_account else JoinForm(request.POST or None)
    error = None
    if request.method == "POST":
        try:
            if _accept(request, invitation, form):
                messages.success(request, _("Welcome to %(name)s.") % {"name": invitation.household.name})
                return redirect("home")
        except ApplicationError as exc:
            if form is not None and exc.field:
                apply_error(form, exc)
            else:
                error = exc.message
    failed = bool(error or (form is not None and form.errors))
    return render(request, "devices/household_join.html", {
        "invitation": invitation, "form": form, "has_account": has_account, "error": error,
        "role": role_of(request.user), "login_url": f"{reverse('login')}?next={request.path}",
    }, status=400 if failed else 200)
