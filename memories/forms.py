from datetime import datetime, time, timedelta

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from memories.gateway import KINDS, ListFilter
from memories.models import MemoryFeedback
from memories.services import MAX_REASON, MAX_TEXT

SEARCH_MODES = [("semantic", _("By meaning (semantic)")), ("text", _("Exact words (text match)"))]
RATING_FILTERS = [("", _("Any rating")), ("none", _("Unrated")), *MemoryFeedback.Rating.choices]


def _device_choices(child):
    return [(str(d.pk), str(d)) for d in child.devices.all()]


def _category_choices(categories):
    return [(c.key, c.label) for c in categories]


class MemoryFilterForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False, max_length=200,
                        widget=forms.TextInput(attrs={"type": "search"}))
    mode = forms.ChoiceField(label=_("Search type"), choices=SEARCH_MODES, required=False)
    category = forms.ChoiceField(label=_("Category"), required=False)
    device = forms.ChoiceField(label=_("Toy"), required=False)
    kind = forms.ChoiceField(label=_("Source"), required=False, choices=[("", _("Any source")), *KINDS.items()])
    rating = forms.ChoiceField(label=_("Rating"), required=False, choices=RATING_FILTERS)
    date_from = forms.DateField(label=_("Learned from"), required=False,
                                widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("Learned until"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, data, *, child, categories):
        super().__init__(data)
        self.child = child
        self.fields["category"].choices = [("", _("Any category")), *_category_choices(categories),
                                           ("profile", _("Profile"))]
        self.fields["device"].choices = [("", _("All toys")), *_device_choices(child)]

    def value(self, name: str):
        """A cleaned value; an invalid field counts as not filtering."""
        self.is_valid()
        return self.cleaned_data.get(name)

    def list_filter(self) -> ListFilter:
        start, end = self.value("date_from"), self.value("date_to")
        return ListFilter(
            kinds=(self.value("kind"),) if self.value("kind") else (),
            categories=(self.value("category"),) if self.value("category") else (),
            ratings=(self.value("rating"),) if self.value("rating") else (),
            created_from=_day_start(start) if start else None,
            created_to=_day_start(end + timedelta(days=1)) if end else None,
            text=(self.value("q") or "").strip() if self.search_mode() == "text" else "",
            device_ids=(self.value("device"),) if self.value("device") else (),
        )

    def search_mode(self) -> str:
        return self.value("mode") or "semantic"

    def semantic_query(self) -> str:
        return (self.value("q") or "").strip() if self.search_mode() == "semantic" else ""


def _day_start(day) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


class MemoryTextForm(forms.Form):
    text = forms.CharField(label=_("What the toy remembers"), max_length=MAX_TEXT, widget=forms.Textarea(attrs={"rows": 3}))


class MemoryAddForm(MemoryTextForm):
    device = forms.ChoiceField(label=_("Toy"), required=False)
    category = forms.ChoiceField(label=_("Category"), required=False)

    def __init__(self, *args, child, categories, **kwargs):
        super().__init__(*args, **kwargs)
        self.child = child
        self.fields["device"].choices = [("", _("Every toy of %(name)s") % {"name": child.name}), *_device_choices(child)]
        self.fields["category"].choices = [("", _("Let the portal choose")), *_category_choices(categories)]

    def device_obj(self):
        chosen = self.cleaned_data.get("device")
        return next((d for d in self.child.devices.all() if str(d.pk) == chosen), None) if chosen else None


class RateForm(forms.Form):
    rating = forms.ChoiceField(required=False, choices=[("", _("No rating")), *MemoryFeedback.Rating.choices])
    reason = forms.CharField(label=_("Reason (optional)"), required=False, max_length=MAX_REASON)


class CategoryForm(forms.Form):
    category = forms.ChoiceField()

    def __init__(self, *args, categories, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = _category_choices(categories)


class DeleteAllForm(forms.Form):
    confirmation = forms.CharField(max_length=100)

    def __init__(self, *args, child, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["confirmation"].label = _("Type %(name)s to confirm") % {"name": child.name}


class ExportForm(forms.Form):
    format = forms.ChoiceField(choices=[("json", "JSON"), ("csv", "CSV")])
