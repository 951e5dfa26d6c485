"""Irreversible actions ask first, without JavaScript: the action's URL answers a GET (and a
POST that was not confirmed) with a page that says what will happen; only a POST carrying
``confirmed=yes`` from that page does it.

    if not confirmed(request):
        return confirm_page(request, title=…, consequences=[…], button=…, cancel=…)
"""

from dataclasses import dataclass, field

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def confirmed(request: HttpRequest) -> bool:
    return request.method == "POST" and request.POST.get("confirmed") == "yes"


@dataclass(frozen=True)
class Confirmation:
    title: str
    consequences: list[str]
    button: str
    cancel: str  # where "Cancel" leads (the page the action was offered on)
    action: str = ""  # the URL to POST to; the request's own path by default
    hidden: list[tuple[str, str]] = field(default_factory=list)  # more fields to send again
    items: list[str] = field(default_factory=list)  # what is concerned, when it helps to see it
    more: int = 0  # how many more items there are than listed
    back_label: str = "Cancel"


def confirm_page(request: HttpRequest, *, title: str, consequences: list[str], button: str, cancel: str,
                 action: str = "", hidden: list[tuple[str, str]] | None = None, items: list[str] | None = None,
                 more: int = 0, template: str = "portal/confirm.html", **context) -> HttpResponse:
    confirmation = Confirmation(title=title, consequences=consequences, button=button, cancel=cancel,
                                action=action or request.path, hidden=list(hidden or []), items=list(items or []),
                                more=more)
    return render(request, template, {"confirmation": confirmation, **context})
