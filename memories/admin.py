"""Deleting a child, a household or a parent's account in the Django admin runs the one
erase path (single and bulk delete alike): the row goes only after its memories are erased
and verified, by the worker. Model deletes that bypass this are refused (devices.guards)."""

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

from devices.admin import ChildProfileAdmin, HouseholdAdmin
from devices.models import ChildProfile, Household, Membership
from memories.erasure import erasure_start
from memories.models import Erasure

Scope = Erasure.Scope


class EraseOnDelete:
    """Admin delete actions become erasures; the confirmation page lists what goes."""

    def erase(self, request, obj) -> Erasure | None:
        raise NotImplementedError

    def get_deleted_objects(self, objs, request):
        # Children and toys are protected from a plain cascade; the erase path removes them.
        to_delete, model_count, perms_needed, _protected = super().get_deleted_objects(objs, request)
        return to_delete, model_count, perms_needed, []

    def delete_model(self, request, obj):
        erasure = self.erase(request, obj)
        if erasure is not None:
            messages.info(request, f"Erasure {erasure.reference} queued: {obj} is deleted once every memory "
                                   "is erased and verified.")

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)


@admin.register(Household)
class ErasingHouseholdAdmin(EraseOnDelete, HouseholdAdmin):
    def erase(self, request, obj):
        return erasure_start(scope=Scope.HOUSEHOLD, origin="admin", actor=request.user, household=obj)


@admin.register(ChildProfile)
class ErasingChildProfileAdmin(EraseOnDelete, ChildProfileAdmin):
    def erase(self, request, obj):
        return erasure_start(scope=Scope.CHILD, origin="admin", actor=request.user, child=obj)


User = get_user_model()
if admin.site.is_registered(User):
    admin.site.unregister(User)


@admin.register(User)
class ErasingUserAdmin(EraseOnDelete, UserAdmin):
    def erase(self, request, obj):
        if not Membership.objects.filter(user=obj).exists():
            obj.delete()  # staff, or an account without a household: nothing of a child's
            return None
        return erasure_start(scope=Scope.ACCOUNT, origin="admin", actor=request.user, user=obj)


@admin.register(Erasure)
class ErasureAdmin(admin.ModelAdmin):
    list_display = ["reference", "scope", "origin", "household_name", "state", "created_at", "completed_at"]
    list_filter = ["scope", "state", "origin"]
    search_fields = ["reference", "household_name"]
    readonly_fields = [f.name for f in Erasure._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # the record of an erasure is the proof it happened
