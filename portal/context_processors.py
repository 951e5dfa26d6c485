from portal.access import Role, role_of


def roles(request):
    role = role_of(getattr(request, "user", None))
    return {"portal_role": role, "Role": Role}
