from django.urls import path

from memories import playground_views as views

app_name = "playground"

urlpatterns = [
    path("<int:agent_id>/playground/", views.agent_playground, name="run"),
]
