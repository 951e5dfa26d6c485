"""The agent playground (admins): a sample conversation through Mem0's extraction with a
draft memory prompt, in a throw-away namespace that the one erase path then erases."""

from django import forms
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_http_methods

from devices.models import Agent
from memories import playground
from memories.gateway import Mem0Unavailable
from portal.access import admin_required
from portal.errors import ApplicationError


class PlaygroundForm(forms.Form):
    prompt = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 6}), label="Draft memory prompt")
    sample = forms.ChoiceField(required=False, label="Or pick a sample",
                               choices=[("", "—")] + [(k, v[0]) for k, v in playground.SAMPLES.items()])
    conversation = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 10}),
                                   help_text="One message per line, starting with “child:” or “toy:”.")


@require_http_methods(["GET", "POST"])
@admin_required
def agent_playground(request, agent_id):
    agent = get_object_or_404(Agent, pk=agent_id)
    form = PlaygroundForm(request.POST or None, initial={"prompt": agent.memory_prompt})
    result = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        conversation = data["conversation"] or playground.SAMPLES.get(data["sample"], ("", ""))[1]
        try:
            result = playground.playground_run(actor=request.user, agent=agent, prompt=data["prompt"],
                                               conversation=conversation)
        except ApplicationError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        except Mem0Unavailable:
            form.add_error(None, "Mem0 is unavailable right now. Try again shortly.")
    context = {"agent": agent, "form": form, "result": result, "llm_configured": playground.llm_configured()}
    template = "memories/agent_playground.html#result" if request.htmx and result else "memories/agent_playground.html"
    return render(request, template, context)
