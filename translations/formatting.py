"""Dates, numbers and money in the reader's locale, from Babel's CLDR data.

Locale ids are the project's language codes (en, my, km, ne, th), which Babel knows
as they are. Times are shown in the desk's time zone, with the zone's offset, so a
caseworker never has to convert from UTC in their head.
"""

from __future__ import annotations

import datetime as dt
import functools
from decimal import Decimal
from typing import Literal

from babel import Locale, UnknownLocaleError, dates, numbers

DEFAULT_TIMEZONE = "Asia/Bangkok"
DEFAULT_LOCALE = "en"
# The currencies workers are paid in, or send home: Thailand, Malaysia, Myanmar,
# Cambodia, Nepal.
CURRENCIES = ("THB", "MYR", "MMK", "KHR", "NPR")

Width = Literal["short", "medium", "long", "full"]


@functools.lru_cache(maxsize=32)
def _locale(locale: str | None) -> Locale:
    """The CLDR locale, parsed once (a queue page formats a hundred dates with it)."""
    try:
        return Locale.parse(locale or DEFAULT_LOCALE)
    except (UnknownLocaleError, ValueError):
        return Locale.parse(DEFAULT_LOCALE)


def _in_zone(value: dt.datetime, zone: str) -> dt.datetime:
    aware = value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
    return aware.astimezone(dates.get_timezone(zone))


def format_datetime(
    value: dt.datetime,
    locale: str | None,
    zone: str = DEFAULT_TIMEZONE,
    *,
    date_width: Width = "medium",
    time_width: Width = "short",
) -> str:
    """Write a moment as the reader's locale does, in the zone, with the zone's offset.

    Naive datetimes are taken as UTC, as the database keeps them.
    """
    where = _locale(locale)
    local = _in_zone(value, zone)
    date_part = dates.format_date(local, date_width, locale=where)
    time_part = dates.format_time(local, time_width, tzinfo=local.tzinfo, locale=where)
    # CLDR's glue pattern, e.g. "{1}, {0}" or "{1} {0}", used as Babel's own format_datetime does.
    glue = str(where.datetime_formats[date_width]).replace("'", "")
    offset = dates.format_time(local, "ZZZZ", tzinfo=local.tzinfo, locale=where)  # GMT+07:00
    return f"{glue.replace('{0}', time_part).replace('{1}', date_part)} {offset}"


def format_date(
    value: dt.date | dt.datetime,
    locale: str | None,
    zone: str = DEFAULT_TIMEZONE,
    *,
    width: Width = "medium",
) -> str:
    """Write a day as the reader's locale does (a datetime is first put in the zone)."""
    day = _in_zone(value, zone).date() if isinstance(value, dt.datetime) else value
    return dates.format_date(day, width, locale=_locale(locale))


def format_number(value: int | float | Decimal, locale: str | None) -> str:
    """Write a number with the locale's grouping and decimal signs (Nepali: 12,34,567)."""
    return numbers.format_decimal(value, locale=_locale(locale))


def minor_units(currency: str) -> int:
    """How many decimal places the currency counts in (CLDR: 0 for MMK, 2 for THB)."""
    return numbers.get_currency_precision(currency)


def format_money(amount_minor: int, currency: str, locale: str | None) -> str:
    """Write an amount kept in the currency's minor units (satang, sen…) as the locale does.

    The amount is kept exact as a Decimal, never a float.
    """
    amount = Decimal(amount_minor).scaleb(-minor_units(currency))
    return numbers.format_currency(amount, currency, locale=_locale(locale))
