"""Admin pages for agents: settings, memory prompt versions (diff, rollback), the
playground, and the toy servers' tokens."""

import difflib
import re

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Count, Max
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from devices import services, tokens
from devices.models import Agent, Device, DeviceToken, normalize_mac
from portal.access import admin_required
from portal.confirm import confirm_page, confirmed
from portal.errors import ApplicationError

_CATEGORY_KEY = re.compile(r"^[a-z0-9_]{1,40}$")


class DeviceChoice(forms.ModelMultipleChoiceField):
    def label_from_instance(self, device):
        return f"{device.mac} — {device.name or 'unnamed'} ({device.household.name})"


class AgentForm(forms.Form):
    name = forms.CharField(max_length=80)
    system_prompt = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 6}),
        help_text="What the toy is told at the start of a session. {{child_profile}} is replaced by the child's profile.")
    memory_enabled = forms.BooleanField(required=False, label="Memory on",
                                        help_text="Off: nothing is served to the toy and conversations are dropped.")
    memory_prompt = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 8}),
        help_text="What Mem0 may extract and keep from conversations, e.g. “keep interests, friends' first names and "
                  "routines; never keep addresses, phone numbers or school names”. Every change is a new version.")
    note = forms.CharField(required=False, max_length=200, label="Version note",
                           help_text="Why the memory prompt changed (kept with the version).")
    categories = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 6}),
        help_text="One per line: key | label | description (key: lowercase letters, digits, _). "
                  "Empty: the default categories.")
    devices = DeviceChoice(queryset=Device.objects.select_related("household").order_by("mac"), required=False,
                           widget=forms.SelectMultiple(attrs={"size": 8}), help_text="The devices that run this agent.")

    def __init__(self, *args, agent=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.agent = agent

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        others = Agent.objects.filter(name__iexact=name)
        if self.agent is not None:
            others = others.exclude(pk=self.agent.pk)
        if others.exists():
            raise ValidationError("Another agent has this name.")
        return name

    def clean_categories(self):
        parsed, seen = [], set()
        for n, line in enumerate(self.cleaned_data["categories"].splitlines(), start=1):
            if not line.strip():
                continue
            parts = [p.strip() for p in line.split("|")]
            key = parts[0].lower()
            if not _CATEGORY_KEY.match(key):
                raise ValidationError(f"Line {n}: the key must be lowercase letters, digits or _ (up to 40).")
            if key in seen:
                raise ValidationError(f"Line {n}: the key “{key}” is listed twice.")
            seen.add(key)
            label = parts[1] if len(parts) > 1 and parts[1] else key.replace("_", " ").capitalize()
            parsed.append({"key": key, "label": label[:60], "description": " | ".join(parts[2:])[:300] or label})
        return parsed


def categories_text(categories) -> str:
    return "\n".join(f"{c.get('key', '')} | {c.get('label', '')} | {c.get('description', '')}"
                     for c in categories or [] if isinstance(c, dict))


@require_GET
@admin_required
def agent_list(request):
    agents = Agent.objects.annotate(device_count=Count("devices", distinct=True),
                                    version=Max("prompt_versions__number")).order_by("name")
    return render(request, "devices/agent_list.html", {"agents": agents})


def _save(request, form, agent):
    data = form.cleaned_data
    try:
        with transaction.atomic():
            agent = services.agent_save(
                actor=request.user, agent=agent, note=data["note"], name=data["name"],
                system_prompt=data["system_prompt"], memory_enabled=data["memory_enabled"],
                memory_prompt=data["memory_prompt"], categories=data["categories"])
            services.agent_set_devices(actor=request.user, agent=agent, devices=data["devices"])
    except ApplicationError as exc:
        form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        return None
    return agent


@require_http_methods(["GET", "POST"])
@admin_required
def agent_create(request):
    form = AgentForm(request.POST or None, initial={"memory_enabled": True})
    if request.method == "POST" and form.is_valid():
        agent = _save(request, form, None)
        if agent is not None:
            messages.success(request, f"Agent “{agent.name}” created.")
            return redirect("agents:edit", agent_id=agent.pk)
    return render(request, "devices/agent_form.html", {"form": form, "agent": None})


@require_http_methods(["GET", "POST"])
@admin_required
def agent_edit(request, agent_id):
    agent = get_object_or_404(Agent, pk=agent_id)
    initial = {"name": agent.name, "system_prompt": agent.system_prompt, "memory_enabled": agent.memory_enabled,
               "memory_prompt": agent.memory_prompt, "categories": categories_text(agent.categories),
               "devices": list(agent.devices.values_list("pk", flat=True))}
    form = AgentForm(request.POST or None, initial=initial, agent=agent)
    if request.method == "POST" and form.is_valid():
        if _save(request, form, agent) is not None:
            messages.success(request, "Agent saved.")
            return redirect("agents:edit", agent_id=agent.pk)
    versions = agent.prompt_versions.select_related("created_by")[:5]
    return render(request, "devices/agent_form.html", {"form": form, "agent": agent, "versions": versions})


def diff_lines(old: str, new: str) -> list[tuple[str, str]]:
    """(kind, text) per line: ``add``, ``del`` or ``same``; the template escapes the text."""
    kinds = {"+ ": "add", "- ": "del", "  ": "same"}
    return [(kinds[line[:2]], line[2:]) for line in difflib.ndiff(old.splitlines(), new.splitlines())
            if line[:2] in kinds]


def _number(raw, default):
    try:
        return int(raw)
    except (TypeError, ValueError):
        return default


@require_GET
@admin_required
def agent_versions(request, agent_id):
    agent = get_object_or_404(Agent, pk=agent_id)
    page = Paginator(agent.prompt_versions.select_related("created_by"), 50).get_page(request.GET.get("page"))
    by_number = dict(agent.prompt_versions.values_list("number", "memory_prompt"))
    latest = max(by_number, default=0)
    b = _number(request.GET.get("b"), latest)
    a = _number(request.GET.get("a"), max((n for n in by_number if n < b), default=b))
    diff = None
    if a in by_number and b in by_number:
        diff = diff_lines(by_number[a], by_number[b])
    return render(request, "devices/agent_versions.html", {
        "agent": agent, "page": page, "a": a, "b": b, "diff": diff, "numbers": sorted(by_number, reverse=True),
        "current": agent.memory_prompt})


@require_http_methods(["GET", "POST"])
@admin_required
def agent_rollback(request, agent_id, number):
    agent = get_object_or_404(Agent, pk=agent_id)
    version = get_object_or_404(agent.prompt_versions, number=number)
    if not confirmed(request):
        devices = agent.devices.count()
        latest = agent.prompt_versions.order_by("-number").values_list("number", flat=True).first() or 0
        return confirm_page(request, title=f"Roll “{agent.name}” back to memory prompt v{number}?", consequences=[
            f"The memory prompt of v{number} becomes current again, saved as a new version v{latest + 1} "
            f"(every earlier version stays in the history).",
            f"The {devices} toy{'s' if devices != 1 else ''} running this agent use it from their next "
            f"conversation: what they keep from then on follows v{number}'s rules.",
            "Memories already kept are not changed or deleted.",
        ], button=f"Roll back to v{number}", cancel=reverse("agents:versions", args=[agent.pk]),
            items=[version.memory_prompt or "(an empty memory prompt)"])
    try:
        services.agent_rollback(actor=request.user, agent=agent, number=number)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"The memory prompt of version {number} is current again (as a new version).")
    return redirect("agents:versions", agent_id=agent.pk)


class TokenForm(forms.Form):
    name = forms.CharField(max_length=80, help_text="Which toy server uses it.")
    scope = forms.ChoiceField(choices=[("device", "One device"), ("fleet", "Every device (fleet)")],
                              widget=forms.RadioSelect, initial="device")
    mac = forms.CharField(required=False, max_length=32, label="Device MAC address",
                          help_text="For a device token.")

    def clean(self):
        data = super().clean()
        data["device"] = None
        if data.get("scope") == "device":
            try:
                mac = normalize_mac(data.get("mac") or "")
            except ValidationError as exc:
                self.add_error("mac", exc.messages[0])
                return data
            data["device"] = Device.objects.filter(mac=mac).first()
            if data["device"] is None:
                self.add_error("mac", "No device with this MAC address.")
        return data


NEW_TOKEN_KEY = "new_token"  # the raw token, held in the session from the POST to the next GET only


@require_http_methods(["GET", "POST"])
@admin_required
def token_list(request):
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            created, raw = tokens.token_create(actor=request.user, name=data["name"], device=data["device"],
                                               fleet=data["scope"] == "fleet")
        except ApplicationError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            # Post/redirect/get: a reload shows the list, it does not create a second token.
            request.session[NEW_TOKEN_KEY] = {"id": created.pk, "raw": raw}
            return redirect("agents:tokens")
    shown = request.session.pop(NEW_TOKEN_KEY, None) if request.method == "GET" else None
    created = DeviceToken.objects.filter(pk=shown["id"]).first() if shown else None
    raw = shown["raw"] if created else None
    rows = DeviceToken.objects.select_related("device", "created_by").order_by("-created_at")
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    response = render(request, "devices/agent_tokens.html", {"form": form, "page": page, "created": created,
                                                             "raw": raw})
    if raw:
        response["Cache-Control"] = "no-store"  # the raw token is shown once and never cached
    return response


@require_http_methods(["GET", "POST"])
@admin_required
def token_revoke(request, token_id):
    token = get_object_or_404(DeviceToken.objects.select_related("device"), pk=token_id)
    if not confirmed(request):
        covers = "every toy (a fleet token)" if token.is_fleet else f"the toy {token.device.mac if token.device else ''}"
        return confirm_page(request, title=f"Revoke the token “{token.name}”?", consequences=[
            f"Toy servers using it are refused (401) from now on, for {covers}.",
            "A revoked token cannot be used again: the toy server needs a new token.",
        ], button="Revoke the token", cancel=reverse("agents:tokens"))
    tokens.token_revoke(actor=request.user, token=token)
    messages.success(request, f"Token “{token.name}” revoked: toy servers using it now get 401.")
    return redirect("agents:tokens")
