"""TOTP codes that work once and only near now; recovery codes that survive being typed by hand."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest

from safeguards import totp

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
NOW = 1_800_000_015.0  # some moment in 2027, 15 seconds into its time step
STEP = int(NOW // 30)


def test_a_new_secret_is_160_bits_of_base32_and_never_repeats() -> None:
    secrets = {totp.new_secret() for _ in range(50)}
    assert len(secrets) == 50
    for secret in secrets:
        assert re.fullmatch(r"[A-Z2-7]{32}", secret)


def test_the_secret_is_shown_in_groups_of_four() -> None:
    assert totp.grouped(SECRET) == "JBSW Y3DP EHPK 3PXP JBSW Y3DP EHPK 3PXP"


def test_the_provisioning_uri_names_the_desk_and_the_account() -> None:
    uri = totp.provisioning_uri(SECRET, "cw@example.org")
    parts = urlsplit(uri)
    assert (parts.scheme, parts.netloc) == ("otpauth", "totp")
    query = parse_qs(parts.query)
    assert query["secret"] == [SECRET]
    assert query["issuer"] == ["Worker Voice Desk"]
    assert "cw%40example.org" in parts.path


def test_the_qr_code_is_an_inline_svg_without_script_or_style() -> None:
    svg = totp.qr_svg(totp.provisioning_uri(SECRET, "cw@example.org"))
    assert svg.startswith("<svg")
    assert svg.rstrip().endswith("</svg>")
    assert "<?xml" not in svg
    for forbidden in ("<script", "style=", "javascript:", "href="):
        assert forbidden not in svg


def test_the_code_of_now_and_of_the_steps_either_side_are_accepted() -> None:
    for step in (STEP - 1, STEP, STEP + 1):
        assert totp.matching_step(SECRET, totp.code_at(SECRET, step), NOW, None) == step


def test_codes_two_steps_away_are_refused() -> None:
    for step in (STEP - 2, STEP + 2):
        assert totp.matching_step(SECRET, totp.code_at(SECRET, step), NOW, None) is None


def test_a_code_whose_step_was_used_is_refused() -> None:
    code = totp.code_at(SECRET, STEP)
    assert totp.matching_step(SECRET, code, NOW, last_step=STEP) is None
    # Nor does an older one work after a newer one was used.
    older = totp.code_at(SECRET, STEP - 1)
    assert totp.matching_step(SECRET, older, NOW, last_step=STEP) is None
    assert totp.matching_step(SECRET, totp.code_at(SECRET, STEP + 1), NOW, STEP) == STEP + 1


def test_codes_agree_with_an_authenticator_app() -> None:
    app = pyotp.TOTP(SECRET)
    assert totp.matching_step(SECRET, app.at(NOW), NOW, None) == STEP


@pytest.mark.parametrize(
    "typed",
    ["123 456", " 123456 ", "123-456", "๑๒๓๔๕๖", "၁၂၃၄၅၆"],
    ids=["spaced", "padded", "dashed", "thai-digits", "myanmar-digits"],
)
def test_a_code_typed_with_spaces_or_local_digits_reads_as_six_digits(typed: str) -> None:
    assert totp.looks_like_totp(typed)


@pytest.mark.parametrize("typed", ["", "12345", "1234567", "12345a", "ABCD-EFGH-JKMN-PQRS"])
def test_anything_but_six_digits_is_not_a_totp_code(typed: str) -> None:
    assert not totp.looks_like_totp(typed)
    assert totp.matching_step(SECRET, typed, NOW, None) is None


def test_local_digits_of_the_right_code_are_accepted() -> None:
    code = totp.code_at(SECRET, STEP)
    thai = "".join(chr(0x0E50 + int(d)) for d in code)
    assert totp.matching_step(SECRET, thai, NOW, None) == STEP


def test_ten_recovery_codes_all_different_and_easy_to_read() -> None:
    codes = totp.new_recovery_codes()
    assert len(codes) == 10
    assert len(set(codes)) == 10
    for code in codes:
        assert re.fullmatch(r"[2-9A-HJKMNP-Z]{4}(-[2-9A-HJKMNP-Z]{4}){3}", code), code


def test_a_recovery_code_hashes_the_same_however_it_is_typed() -> None:
    code = totp.new_recovery_codes(1)[0]
    stored = totp.recovery_code_hash(code)
    assert stored is not None
    assert re.fullmatch(r"[0-9a-f]{64}", stored)
    assert totp.recovery_code_hash(code.lower()) == stored
    assert totp.recovery_code_hash(code.replace("-", " ")) == stored
    assert totp.recovery_code_hash(code.replace("-", "")) == stored
    assert code not in stored


@pytest.mark.parametrize("typed", ["", "123456", "ABCD-EFGH-JKMN-PQR", "ABCD-EFGH-JKMN-PQR0"])
def test_what_cannot_be_a_recovery_code_has_no_hash(typed: str) -> None:
    assert totp.recovery_code_hash(typed) is None
