"""Pseudonyms: one worker is one stable pseudonym, and it gives away nothing of the address."""

from __future__ import annotations

import re

import pytest

from safeguards.pseudonyms import pseudonym_for

PEPPER = b"pepper-for-tests-0123456789abcdef"
PHONE = "+66812345678"


def test_same_worker_gets_the_same_pseudonym_every_time() -> None:
    assert pseudonym_for(PEPPER, "whatsapp", PHONE) == pseudonym_for(PEPPER, "whatsapp", PHONE)
    assert pseudonym_for(PEPPER, "telegram", "7340012345") == pseudonym_for(
        PEPPER, "telegram", "7340012345"
    )


def test_pseudonym_is_w_and_twenty_base32_characters() -> None:
    assert re.fullmatch(r"W[A-Z2-7]{20}", pseudonym_for(PEPPER, "whatsapp", PHONE))


def test_different_workers_get_different_pseudonyms() -> None:
    assert pseudonym_for(PEPPER, "whatsapp", PHONE) != pseudonym_for(
        PEPPER, "whatsapp", "+66812345679"
    )


def test_same_address_on_another_channel_gets_another_pseudonym() -> None:
    pseudonyms = {
        pseudonym_for(PEPPER, channel, PHONE) for channel in ("whatsapp", "sms", "voice", "viber")
    }
    assert len(pseudonyms) == 4


def test_another_deployment_pepper_gives_another_pseudonym() -> None:
    assert pseudonym_for(PEPPER, "whatsapp", PHONE) != pseudonym_for(
        b"another-pepper-0123456789abcdef", "whatsapp", PHONE
    )


@pytest.mark.parametrize(
    "written",
    ["whatsapp:+66 81-234-5678", "+66 81 234 5678", " +66812345678 ", "whatsapp:+66812345678"],
)
def test_phone_number_written_differently_on_whatsapp_is_the_same_worker(written: str) -> None:
    assert pseudonym_for(PEPPER, "whatsapp", written) == pseudonym_for(PEPPER, "whatsapp", PHONE)


def test_sms_number_with_spaces_and_dashes_is_the_same_worker() -> None:
    assert pseudonym_for(PEPPER, "sms", "+66 81-234-5678") == pseudonym_for(PEPPER, "sms", PHONE)


def test_telegram_username_case_does_not_split_a_worker() -> None:
    assert pseudonym_for(PEPPER, "telegram", "AungKyaw") == pseudonym_for(
        PEPPER, "telegram", "aungkyaw"
    )


@pytest.mark.parametrize(
    ("channel", "address"),
    [("whatsapp", "+66812345678"), ("sms", "+959420012345"), ("telegram", "7340012345")],
)
def test_pseudonym_shows_no_run_of_the_address_digits(channel: str, address: str) -> None:
    # Base32 uses the digits 2-7, so single digits may appear; no run of the address may.
    pseudonym = pseudonym_for(PEPPER, channel, address)
    digits = "".join(ch for ch in address if ch.isdigit())

    assert digits not in pseudonym
    for start in range(len(digits) - 2):
        assert digits[start : start + 3] not in pseudonym
