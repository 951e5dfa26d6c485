from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from devices.models import ChildProfile, Device, Household, normalize_mac


class ChildProfileForm(forms.ModelForm):
    interests = forms.CharField(label=_("Interests"), required=False, help_text=_("Separate with commas: dinosaurs, football, space"),
                                max_length=600)
    gender = forms.CharField(label=_("Gender"), required=False, max_length=40,
                             help_text=_("Free text, e.g. girl, boy, non-binary, prefer not to say."))

    class Meta:
        model = ChildProfile
        fields = ["name", "birth_date", "gender", "interests", "toy_note", "memory_paused"]
        widgets = {"birth_date": forms.DateInput(attrs={"type": "date"})}
        labels = {"name": _("Name"), "birth_date": _("Birth date"), "toy_note": _("Note for the toy"),
                  "memory_paused": _("Pause memory (the toy neither learns nor recalls)")}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and not self.is_bound:
            self.initial["interests"] = ", ".join(self.instance.interests)

    def clean_interests(self):
        return [i.strip() for i in self.cleaned_data["interests"].split(",") if i.strip()]


class DeviceForm(forms.Form):
    mac = forms.CharField(label=_("MAC address"), max_length=40, help_text=_("Printed under the toy, e.g. AA-BB-CC-DD-EE-FF"))
    name = forms.CharField(label=_("Name"), max_length=80, required=False)
    child = forms.ModelChoiceField(label=_("Child"), queryset=ChildProfile.objects.none(), required=False)

    def __init__(self, *args, household, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["child"].queryset = household.children.all()

    def clean_mac(self):
        mac = normalize_mac(self.cleaned_data["mac"])
        if Device.objects.filter(mac=mac).exists():
            raise ValidationError("This device is already registered.")
        return mac


class PairForm(forms.Form):
    code = forms.CharField(label=_("The 6-digit code the toy says or shows"), max_length=12,
                           widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code"}))
    child = forms.ModelChoiceField(label=_("Child"), queryset=ChildProfile.objects.none(), required=False,
                                   help_text=_("Who talks to this toy. Their memories stay theirs."))
    name = forms.CharField(label=_("Name"), max_length=80, required=False, help_text=_("e.g. the bedroom robot"))

    def __init__(self, *args, household, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["child"].queryset = household.children.all()


class StaffDeviceForm(forms.Form):
    """Staff only: a toy registered by its MAC, into any household."""

    household = forms.ModelChoiceField(queryset=Household.objects.order_by("name"))
    mac = DeviceForm.base_fields["mac"]
    name = forms.CharField(max_length=80, required=False)
    child = forms.ModelChoiceField(queryset=ChildProfile.objects.select_related("household"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["child"].label_from_instance = lambda c: f"{c.name} ({c.household.name})"

    clean_mac = DeviceForm.clean_mac


class DeviceAssignForm(forms.Form):
    child = forms.ModelChoiceField(label=_("Child"), queryset=ChildProfile.objects.none(), required=False,
                                   empty_label=_("Nobody (unlink)"))

    def __init__(self, *args, household, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["child"].queryset = household.children.all()
