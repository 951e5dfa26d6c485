from portal.errors import ApplicationError


def apply_error(form, exc: ApplicationError) -> None:
    """Show a domain refusal on the form field it concerns (or on the whole form)."""
    field = exc.field if exc.field in form.fields else None
    form.add_error(field, exc.message)
