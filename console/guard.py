"""Views declare the action they serve; the access table says which roles may take it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import abort

from console.auth import current_user, roles
from intake.models import User
from safeguards.access import roles_for

F = TypeVar("F", bound=Callable[..., Any])


def allows(action: str) -> Callable[[F], F]:
    """Let only signed-in users whose role may take this action reach the view."""
    return roles(*(role.value for role in roles_for(action)))


def signed_in_user() -> User:
    """The user of a view guarded by `allows` or `roles` (never None there)."""
    user = current_user()
    if user is None:
        abort(401)
    return user
