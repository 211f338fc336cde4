"""Passwords are stored as argon2id hashes; API tokens only as their SHA-256."""

from __future__ import annotations

from safeguards.passwords import (
    check_password,
    hash_password,
    needs_rehash,
    new_token,
    token_hash,
)

PASSWORD = "correct horse battery staple"


def test_password_is_stored_as_an_argon2id_hash_not_as_itself() -> None:
    stored = hash_password(PASSWORD)

    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored
    assert not needs_rehash(stored)


def test_same_password_hashes_differently_for_two_accounts() -> None:
    assert hash_password(PASSWORD) != hash_password(PASSWORD)


def test_right_password_signs_in_and_wrong_one_does_not() -> None:
    stored = hash_password(PASSWORD)

    assert check_password(stored, PASSWORD) is True
    assert check_password(stored, PASSWORD.upper()) is False
    assert check_password(stored, "") is False


def test_damaged_stored_hash_refuses_instead_of_crashing() -> None:
    assert check_password("not-an-argon2-hash", PASSWORD) is False


def test_token_hash_finds_the_same_token_again_and_is_not_the_token() -> None:
    token = new_token()

    assert token.startswith("vd_")
    assert token_hash(token) == token_hash(token)
    assert token_hash(token) != token
    assert token.removeprefix("vd_") not in token_hash(token)
    assert len(token_hash(token)) == 64


def test_two_new_tokens_differ_and_hash_differently() -> None:
    first, second = new_token(), new_token()

    assert first != second
    assert token_hash(first) != token_hash(second)
