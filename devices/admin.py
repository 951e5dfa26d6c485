from django.contrib import admin

from devices import services
from devices.models import (
    Agent,
    AgentPromptVersion,
    Device,
    DeviceToken,
    Membership,
)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ["user"]


class HouseholdAdmin(admin.ModelAdmin):
    """Registered by the memories room, whose erase path deletes households."""

    list_display = ["name", "created_at"]
    search_fields = ["name"]
    inlines = [MembershipInline]


class ChildProfileAdmin(admin.ModelAdmin):
    """Registered by the memories room, whose erase path deletes children."""

    list_display = ["name", "household", "birth_date", "memory_paused", "updated_at"]
    list_filter = ["memory_paused"]
    search_fields = ["name", "household__name"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        services.profile_sync_enqueue(obj)  # the admin is one more way to change what toys know


@admin.register(Device)
class DeviceAdmin(admin.ModelAdmin):
    list_display = ["mac", "name", "household", "child", "agent", "last_seen_at"]
    search_fields = ["mac", "name", "household__name"]

    def save_model(self, request, obj, form, change):
        obj.clean()
        if change and "child" in form.changed_data:
            # A move goes through the same service as the parent's.
            new_child, obj.child = obj.child, Device.objects.get(pk=obj.pk).child
            super().save_model(request, obj, form, change)
            services.device_assign(actor=request.user, device=obj, child=new_child)
            return
        super().save_model(request, obj, form, change)
        if obj.child_id:
            services.profile_sync_enqueue(obj.child)


class PromptVersionInline(admin.TabularInline):
    model = AgentPromptVersion
    extra = 0
    readonly_fields = ["number", "memory_prompt", "note", "created_by", "created_at"]
    can_delete = False


@admin.register(Agent)
class AgentAdmin(admin.ModelAdmin):
    list_display = ["name", "memory_enabled", "updated_by", "updated_at"]
    inlines = [PromptVersionInline]
    exclude = ["updated_by"]

    def save_model(self, request, obj, form, change):
        current = Agent.objects.get(pk=obj.pk) if change else None
        agent = services.agent_save(actor=request.user, agent=current, note="Saved in Django admin",
                                    **form.cleaned_data)
        obj.pk = agent.pk


@admin.register(DeviceToken)
class DeviceTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "device", "is_fleet", "prefix", "created_at", "revoked_at", "last_used_at"]
    readonly_fields = ["prefix", "token_hash", "created_at", "last_used_at"]
