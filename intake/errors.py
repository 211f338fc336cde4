"""What a service refuses, in words a view turns into a flash message or an HTTP status."""

from __future__ import annotations


class NotAllowed(PermissionError):
    """This user's role or organisation may not do this to this ticket (403)."""


class Conflict(ValueError):
    """The ticket is not in a state that allows this (409), e.g. a step off the lifecycle."""


class Invalid(ValueError):
    """The input cannot be used (400): an unknown category, an empty reply."""
