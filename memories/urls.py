from django.urls import path

from memories import earlier_views, glance_views, views

app_name = "memories"

memory = "children/<int:child_id>/memories/<str:memory_id>/"

urlpatterns = [
    path("children/<int:child_id>/knows/", glance_views.child_glance_page, name="glance"),
    path("children/<int:child_id>/memories/", views.memory_list, name="list"),
    path("children/<int:child_id>/memories/add/", views.memory_add, name="add"),
    path("children/<int:child_id>/memories/delete/", views.memories_delete_selected, name="delete_selected"),
    path("children/<int:child_id>/memories/delete-all/", views.memories_delete_all, name="delete_all"),
    path("children/<int:child_id>/memories/delete-filtered/", views.memories_delete_filtered, name="delete_filtered"),
    path("children/<int:child_id>/memories/rate/", views.memories_rate_selected, name="rate_selected"),
    path("children/<int:child_id>/memories/export/", views.memories_export, name="export"),
    path(memory, views.memory_detail, name="detail"),
    path(memory + "history/", views.memory_history, name="history"),
    path(memory + "edit/", views.memory_edit, name="edit"),
    path(memory + "rate/", views.memory_rate, name="rate"),
    path(memory + "category/", views.memory_category, name="category"),
    path(memory + "delete/", views.memory_delete, name="delete"),
    path("jobs/<int:job_id>/", views.job_detail, name="job"),
    path("jobs/<int:job_id>/download/", views.job_download, name="download"),
    path("jobs/<int:job_id>/undo/", views.memories_delete_undo, name="undo"),
    path("activity/", views.household_activity, name="activity"),
    path("toys/<int:device_id>/earlier-memories/", earlier_views.toy_earlier, name="toy_earlier"),
    path("toys/<int:device_id>/earlier-memories/adopt/", earlier_views.toy_earlier_adopt, name="toy_earlier_adopt"),
    path("toys/<int:device_id>/earlier-memories/erase/", earlier_views.toy_earlier_erase, name="toy_earlier_erase"),
]
