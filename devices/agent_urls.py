from django.urls import path

from devices import agent_views as views

app_name = "agents"

urlpatterns = [
    path("", views.agent_list, name="list"),
    path("new/", views.agent_create, name="create"),
    path("<int:agent_id>/", views.agent_edit, name="edit"),
    path("<int:agent_id>/versions/", views.agent_versions, name="versions"),
    path("<int:agent_id>/versions/<int:number>/rollback/", views.agent_rollback, name="rollback"),
    path("tokens/", views.token_list, name="tokens"),
    path("tokens/<int:token_id>/revoke/", views.token_revoke, name="token_revoke"),
]
