"""Dates, numbers and money as a reader of each language expects them."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from babel import Locale
from babel.numbers import get_currency_precision, get_currency_symbol

from translations.formatting import (
    CURRENCIES,
    format_date,
    format_datetime,
    format_money,
    format_number,
    minor_units,
)
from translations.i18n import UI_LANGUAGES
from translations.scripts import WORKER_LANGUAGES, detect_language

# 14:07 UTC is 21:07 in Bangkok, Phnom Penh and Vientiane (UTC+7, no daylight saving).
MOMENT = dt.datetime(2026, 3, 5, 14, 7, tzinfo=dt.UTC)
# The month of MOMENT as each language writes it (CLDR's abbreviated or wide name).
MARCH = {"my": "မတ်", "km": "មីនា", "ne": "मार्च", "th": "มี.ค."}


@pytest.mark.parametrize("language", UI_LANGUAGES)
def test_datetime_is_shown_in_bangkok_time_with_its_offset(language: str) -> None:
    shown = format_datetime(MOMENT, language)

    assert "UTC" not in shown
    assert "07:00" in shown  # GMT+07:00, localised in Khmer as ម៉ោងសកល +07:00
    assert ("21:07" in shown) or ("9:07" in shown)
    assert "14:07" not in shown
    assert "2026" in shown


@pytest.mark.parametrize("language", WORKER_LANGUAGES)
def test_datetime_names_the_month_in_the_readers_script(language: str) -> None:
    shown = format_datetime(MOMENT, language)

    assert MARCH[language] in shown
    assert detect_language(shown) == language


def test_datetime_in_english_reads_as_english() -> None:
    assert format_datetime(MOMENT, "en") == "Mar 5, 2026, 9:07\u202fPM GMT+07:00"


def test_datetime_in_another_zone_moves_with_it() -> None:
    assert format_datetime(MOMENT, "en", "Asia/Kathmandu").endswith("7:52\u202fPM GMT+05:45")


def test_naive_datetime_is_taken_as_utc_as_the_database_keeps_it() -> None:
    naive = MOMENT.replace(tzinfo=None)

    assert format_datetime(naive, "th") == format_datetime(MOMENT, "th")


def test_unknown_locale_falls_back_to_english() -> None:
    assert format_datetime(MOMENT, "xx") == format_datetime(MOMENT, "en")
    assert format_datetime(MOMENT, None) == format_datetime(MOMENT, "en")


def test_date_is_the_local_day_not_the_utc_day() -> None:
    late_evening_utc = dt.datetime(2026, 3, 5, 20, 30, tzinfo=dt.UTC)  # 03:30 on the 6th

    assert format_date(late_evening_utc, "en") == "Mar 6, 2026"
    assert format_date(dt.date(2026, 3, 5), "th") == "5 มี.ค. 2026"


def test_numbers_group_digits_as_each_locale_does() -> None:
    assert format_number(1234567, "en") == "1,234,567"
    assert format_number(1234567, "th") == "1,234,567"
    assert format_number(1234567, "ne") == "12,34,567"  # lakh and crore grouping
    assert format_number(Decimal("1234.5"), "my") == "1,234.5"


@pytest.mark.parametrize("currency", CURRENCIES)
def test_minor_units_come_from_cldr(currency: str) -> None:
    assert minor_units(currency) == get_currency_precision(currency)


def test_kyat_has_no_minor_unit_and_baht_has_two() -> None:
    assert minor_units("MMK") == 0
    assert minor_units("THB") == 2
    assert minor_units("MYR") == 2
    assert minor_units("NPR") == 2


@pytest.mark.parametrize("language", UI_LANGUAGES)
@pytest.mark.parametrize("currency", CURRENCIES)
def test_money_shows_the_currency_and_the_right_decimals(language: str, currency: str) -> None:
    digits = get_currency_precision(currency)
    shown = format_money(12345 * 10**digits + (50 if digits else 0), currency, language)

    symbol = get_currency_symbol(currency, locale=language)
    assert symbol in shown
    decimal_sign = Locale.parse(language).number_symbols["latn"]["decimal"]
    if digits:
        assert shown.count(decimal_sign) == 1
        assert shown.split(decimal_sign)[1][:digits] == "50"
    else:
        assert decimal_sign not in shown


def test_money_amounts_are_exact_minor_units() -> None:
    assert format_money(35050, "THB", "th") == "฿350.50"
    assert format_money(1, "THB", "en") == "THB0.01"
    assert format_money(150000, "MMK", "my") == "150,000\xa0K"  # kyat: no minor unit
    assert format_money(400000, "KHR", "km") == "4,000.00៛"
    assert format_money(2500, "NPR", "ne") == "नेरू\xa025.00"
    assert format_money(12000, "MYR", "en") == "MYR120.00"
