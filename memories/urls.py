from django.urls import path

from memories import views

app_name = "memories"

urlpatterns = [
    path("children/<int:child_id>/memories/", views.memory_list, name="list"),
]
