"""Gettext and locale formatting for the console, in the staff user's interface language."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from flask import Flask, g

from translations import formatting
from translations.i18n import CONSOLE_DOMAIN, UI_LANGUAGES, language_name, translations_for


def _(message: str) -> str:
    return translations_for(g.get("ui_language"), CONSOLE_DOMAIN).gettext(message)


def ui_language() -> str:
    """The interface language of this request (set by console.auth before each request)."""
    language = g.get("ui_language")
    return language if language in UI_LANGUAGES else "en"


def local_datetime(value: dt.datetime | None) -> str:
    """A timestamp as the reader's locale writes it, in the desk's time zone."""
    return "" if value is None else formatting.format_datetime(value, ui_language())


def local_date(value: dt.date | dt.datetime | None) -> str:
    """A day as the reader's locale writes it (a moment is first put in the desk's zone)."""
    return "" if value is None else formatting.format_date(value, ui_language())


def local_number(value: int | float | Decimal | None) -> str:
    """A number with the reader's locale's grouping (Nepali: 12,34,567)."""
    return "" if value is None else formatting.format_number(value, ui_language())


def local_money(amount_minor: int | None, currency: str) -> str:
    """An amount kept in minor units, e.g. `{{ 35050 | money("THB") }}`: ฿350.50 in Thai."""
    if amount_minor is None:
        return ""
    return formatting.format_money(amount_minor, currency, ui_language())


def init_app(app: Flask) -> None:
    """Give templates the locale filters and the list of interface languages."""
    app.add_template_filter(local_datetime, "localdatetime")
    app.add_template_filter(local_date, "localdate")
    app.add_template_filter(local_number, "localnumber")
    app.add_template_filter(local_money, "money")

    @app.context_processor
    def _ui_languages() -> dict[str, Any]:
        # Each language named in its own script, so anyone can find theirs.
        return {"ui_languages": [(code, language_name(code)) for code in UI_LANGUAGES]}
