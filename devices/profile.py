"""The text the toys read about a child. One function, used by the push and the API."""

from devices.models import ChildProfile


def profile_text(child: ChildProfile) -> str:
    parts = [f"Name: {child.name}", f"Age: {child.age}", f"Age Group: {child.age_group}"]
    if child.gender:
        parts.append(f"Gender: {child.gender}")
    if child.interests:
        parts.append("Interests: " + ", ".join(child.interests))
    if child.toy_note:
        parts.append(f"Note: {child.toy_note}")
    return "Child Profile - " + ", ".join(parts)


def profile_metadata(child: ChildProfile) -> dict:
    return {
        "kind": "child_profile",
        "child_id": child.pk,
        "age": child.age,
        "age_group": child.age_group,
        "category": "profile",
    }
