"""Gettext for the console, in the signed-in user's interface language."""

from __future__ import annotations

from flask import g

from translations.i18n import CONSOLE_DOMAIN, translations_for


def _(message: str) -> str:
    return translations_for(g.get("ui_language"), CONSOLE_DOMAIN).gettext(message)
