"""Sealing: what a caseworker's database holds can only be read in its own row and column."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from safeguards.sealing import (
    EnvelopeKeys,
    EnvelopePublicKey,
    EnvelopeSealer,
    KeyRing,
    SealingError,
    binding,
    key_id_of,
)

WORKER_TEXT = "ပွဲစားက ကျွန်တော့် passport ကို ယူထားတယ်"  # "the broker took my passport"
ROW = binding("messages", "text_sealed", "3f0c8a52-0000-4000-8000-000000000001")


def key_line(kid: str) -> str:
    return f"{kid}:{base64.urlsafe_b64encode(os.urandom(32)).decode('ascii')}"


@pytest.fixture
def old_line() -> str:
    return key_line("k-old")


@pytest.fixture
def new_line() -> str:
    return key_line("k-new")


@pytest.fixture
def ring(old_line: str) -> KeyRing:
    return KeyRing("data", old_line)


@pytest.fixture
def rotated(old_line: str, new_line: str) -> KeyRing:
    return KeyRing("data", f"{old_line}\n{new_line}")


# --- one ring, one key -------------------------------------------------------


def test_sealed_text_opens_to_the_same_text_and_is_not_stored_readable(ring: KeyRing) -> None:
    blob = ring.seal_text(WORKER_TEXT, ROW)

    assert WORKER_TEXT.encode() not in blob
    assert b"passport" not in blob
    assert ring.open_text(blob, ROW) == WORKER_TEXT


def test_sealing_the_same_text_twice_gives_different_ciphertexts(ring: KeyRing) -> None:
    assert ring.seal_text(WORKER_TEXT, ROW) != ring.seal_text(WORKER_TEXT, ROW)


def test_every_ciphertext_names_the_key_it_was_sealed_under(
    ring: KeyRing, rotated: KeyRing
) -> None:
    assert key_id_of(ring.seal(b"x", ROW)) == "k-old"
    assert key_id_of(rotated.seal(b"x", ROW)) == "k-new"
    envelope = EnvelopeKeys(rotated).current().seal(b"x", ROW)
    assert key_id_of(envelope) == "k-new"


@pytest.mark.parametrize(
    "elsewhere",
    [
        binding("messages", "text_sealed", "3f0c8a52-0000-4000-8000-000000000002"),
        binding("simulator_lines", "text_sealed", "3f0c8a52-0000-4000-8000-000000000001"),
        binding("vault_entries", "address_sealed", "3f0c8a52-0000-4000-8000-000000000001"),
    ],
    ids=["another-row", "another-table", "another-column"],
)
def test_ciphertext_copied_to_another_row_or_column_does_not_open(
    ring: KeyRing, elsewhere: bytes
) -> None:
    blob = ring.seal_text(WORKER_TEXT, ROW)

    with pytest.raises(SealingError):
        ring.open(blob, elsewhere)


def test_ciphertext_with_any_byte_flipped_does_not_open(ring: KeyRing) -> None:
    blob = ring.seal_text(WORKER_TEXT, ROW)

    for position in range(len(blob)):
        tampered = bytearray(blob)
        tampered[position] ^= 0x01
        with pytest.raises(SealingError):
            ring.open(bytes(tampered), ROW)


@pytest.mark.parametrize("keep", [0, 3, 9, 12, 16, 20, 40], ids=lambda n: f"first-{n}-bytes")
def test_truncated_ciphertext_is_refused_as_a_sealing_error(ring: KeyRing, keep: int) -> None:
    # Callers handle SealingError; a cut-off column value must not surface as another error.
    blob = ring.seal_text(WORKER_TEXT, ROW)

    with pytest.raises(SealingError):
        ring.open(blob[:keep], ROW)


def test_ring_without_the_key_refuses_to_open(ring: KeyRing) -> None:
    blob = ring.seal_text(WORKER_TEXT, ROW)
    stranger = KeyRing("data", key_line("k-other"))

    with pytest.raises(SealingError):
        stranger.open(blob, ROW)


def test_same_key_id_with_different_key_refuses_to_open(ring: KeyRing) -> None:
    blob = ring.seal_text(WORKER_TEXT, ROW)
    impostor = KeyRing("data", key_line("k-old"))

    with pytest.raises(SealingError):
        impostor.open(blob, ROW)


# --- rotation ----------------------------------------------------------------


def test_ring_with_two_keys_seals_with_the_last_listed_key(old_line: str, new_line: str) -> None:
    assert KeyRing("data", f"{old_line}\n{new_line}").primary_id == "k-new"
    assert KeyRing("data", f"{new_line}\n{old_line}").primary_id == "k-old"
    # Comma-separated rings, as an environment variable holds them, follow the same rule.
    assert key_id_of(KeyRing("data", f"{old_line},{new_line}").seal(b"x", ROW)) == "k-new"


def test_rotated_ring_still_opens_what_the_old_key_sealed(ring: KeyRing, rotated: KeyRing) -> None:
    before_rotation = ring.seal_text(WORKER_TEXT, ROW)

    assert rotated.open_text(before_rotation, ROW) == WORKER_TEXT


def test_only_ciphertexts_under_an_older_key_need_resealing(
    ring: KeyRing, rotated: KeyRing
) -> None:
    before_rotation = ring.seal_text(WORKER_TEXT, ROW)
    after_rotation = rotated.seal_text(WORKER_TEXT, ROW)

    assert rotated.needs_resealing(before_rotation)
    assert not rotated.needs_resealing(after_rotation)
    assert not ring.needs_resealing(before_rotation)


def test_what_a_ring_seals_now_begins_with_its_sealing_header_and_nothing_older_does(
    ring: KeyRing, rotated: KeyRing
) -> None:
    # `keys rotate` finds what to re-seal by this header, in SQL, without opening rows.
    for keys, seal in (
        (rotated, rotated.seal),
        (EnvelopeKeys(rotated), EnvelopeKeys(rotated).current().seal),
    ):
        assert seal(PAYLOAD, ROW).startswith(keys.sealing_header())
    assert not ring.seal(PAYLOAD, ROW).startswith(rotated.sealing_header())
    old_envelope = EnvelopeKeys(ring).current().seal(PAYLOAD, ENVELOPE)
    assert not old_envelope.startswith(EnvelopeKeys(rotated).sealing_header())
    assert not rotated.seal(PAYLOAD, ROW).startswith(EnvelopeKeys(rotated).sealing_header())


def test_running_process_opens_ciphertext_under_a_key_added_to_its_ring_file(
    tmp_path: Path, old_line: str, new_line: str
) -> None:
    ring_file = tmp_path / "data.keys"
    ring_file.write_text(f"# data ring\n{old_line}\n", encoding="ascii")
    running = KeyRing.from_file("data", ring_file)
    # Another process (`voicedesk keys rotate`) adds a key and seals with it.
    ring_file.write_text(f"# data ring\n{old_line}\n{new_line}\n", encoding="ascii")
    blob = KeyRing.from_file("data", ring_file).seal_text(WORKER_TEXT, ROW)

    assert running.open_text(blob, ROW) == WORKER_TEXT
    assert running.key_ids == ["k-old", "k-new"]


def test_unknown_key_is_still_refused_after_rereading_an_unchanged_ring_file(
    tmp_path: Path, old_line: str, new_line: str
) -> None:
    ring_file = tmp_path / "data.keys"
    ring_file.write_text(f"{old_line}\n", encoding="ascii")
    running = KeyRing.from_file("data", ring_file)
    blob = KeyRing("data", f"{old_line}\n{new_line}").seal_text(WORKER_TEXT, ROW)

    with pytest.raises(SealingError, match="unknown key id"):
        running.open(blob, ROW)


def test_ring_repr_shows_key_ids_but_never_key_material(old_line: str, new_line: str) -> None:
    ring = KeyRing("data", f"{old_line}\n{new_line}")
    shown = repr(ring)

    assert "k-old" in shown
    assert "k-new" in shown
    for line in (old_line, new_line):
        material = line.partition(":")[2]
        raw = base64.urlsafe_b64decode(material)
        assert material not in shown
        assert material.rstrip("=")[:12] not in shown
        assert repr(raw)[2:20] not in shown
        assert raw.hex()[:16] not in shown


# --- envelopes: sealed by the web process, opened only by workers -----------

ENVELOPE = binding("inbound_envelopes", "payload_sealed", "telegram:90017")
PAYLOAD = b'{"message": {"chat": {"id": 7340012345}, "text": "help"}}'


def test_envelope_sealed_to_the_public_key_opens_with_the_vault_keys(rotated: KeyRing) -> None:
    public = EnvelopeKeys(rotated).current()
    blob = public.seal(PAYLOAD, ENVELOPE)

    assert b"7340012345" not in blob
    assert EnvelopeKeys(rotated).open(blob, ENVELOPE) == PAYLOAD


def test_envelope_bound_to_other_data_does_not_open(rotated: KeyRing) -> None:
    blob = EnvelopeKeys(rotated).current().seal(PAYLOAD, ENVELOPE)

    with pytest.raises(SealingError):
        EnvelopeKeys(rotated).open(blob, binding("inbound_envelopes", "payload_sealed", "x"))


def test_envelope_with_a_byte_flipped_does_not_open(rotated: KeyRing) -> None:
    keys = EnvelopeKeys(rotated)
    blob = keys.current().seal(PAYLOAD, ENVELOPE)

    for position in range(len(blob)):
        tampered = bytearray(blob)
        tampered[position] ^= 0x01
        with pytest.raises(SealingError):
            keys.open(bytes(tampered), ENVELOPE)


@pytest.mark.parametrize("keep", [3, 9, 20, 40, 60], ids=lambda n: f"first-{n}-bytes")
def test_truncated_envelope_is_refused_as_a_sealing_error(rotated: KeyRing, keep: int) -> None:
    keys = EnvelopeKeys(rotated)
    blob = keys.current().seal(PAYLOAD, ENVELOPE)

    with pytest.raises(SealingError):
        keys.open(blob[:keep], ENVELOPE)


def test_envelope_opens_only_with_keys_derived_from_the_same_vault_ring(
    old_line: str, new_line: str
) -> None:
    vault_text = f"{old_line}\n{new_line}"
    # The web process holds only this: a key id and public bytes, nothing that opens.
    public = EnvelopeKeys(KeyRing("vault", vault_text)).current()
    assert set(vars(public)) == {"kid", "public"}
    assert not hasattr(EnvelopePublicKey, "open")
    blob = public.seal(PAYLOAD, ENVELOPE)

    same_vault = EnvelopeKeys(KeyRing("vault", vault_text))
    other_vault = EnvelopeKeys(KeyRing("vault", key_line("k-elsewhere")))
    same_id_other_key = EnvelopeKeys(KeyRing("vault", key_line("k-new")))

    assert same_vault.open(blob, ENVELOPE) == PAYLOAD
    with pytest.raises(SealingError):
        other_vault.open(blob, ENVELOPE)
    with pytest.raises(SealingError):
        same_id_other_key.open(blob, ENVELOPE)


def test_a_stream_of_envelopes_shares_an_ephemeral_key_for_a_while_and_each_opens(
    rotated: KeyRing,
) -> None:
    keys = EnvelopeKeys(rotated)
    sealer = EnvelopeSealer(keys.current(), lifetime=60.0, uses=3)
    rows = [binding("inbound_envelopes", "payload_sealed", f"row-{n}") for n in range(7)]
    blobs = [sealer.seal(PAYLOAD + bytes([n]), row) for n, row in enumerate(rows)]
    ephemeral = [blob[: len(blob) - len(PAYLOAD) - 1 - 16 - 12][-32:] for blob in blobs]

    # Three envelopes per key pair, then a new one: 3 + 3 + 1.
    assert [ephemeral.count(key) for key in dict.fromkeys(ephemeral)] == [3, 3, 1]
    assert len({blob[-len(PAYLOAD) - 1 - 16 - 12 :][:12] for blob in blobs}) == 7  # nonces
    opener = EnvelopeKeys(rotated)
    assert [opener.open(blob, row) for blob, row in zip(blobs, rows, strict=True)] == [
        PAYLOAD + bytes([n]) for n in range(7)
    ]
    # A shared key pair does not let one row's envelope open as another's.
    with pytest.raises(SealingError):
        opener.open(blobs[0], rows[1])


def test_an_ephemeral_key_pair_is_renewed_when_its_time_is_up(rotated: KeyRing) -> None:
    sealer = EnvelopeSealer(EnvelopeKeys(rotated).current(), lifetime=0.0)
    first, second = (sealer.seal(PAYLOAD, ENVELOPE) for _ in range(2))

    assert first[: -len(PAYLOAD) - 28] != second[: -len(PAYLOAD) - 28]
    assert EnvelopeKeys(rotated).open(second, ENVELOPE) == PAYLOAD


def test_envelope_sealed_before_rotation_opens_after_it_and_needs_resealing(
    ring: KeyRing, rotated: KeyRing
) -> None:
    blob = EnvelopeKeys(ring).current().seal(PAYLOAD, ENVELOPE)
    keys = EnvelopeKeys(rotated)

    assert [public.kid for public in keys.public_keys()] == ["k-old", "k-new"]
    assert keys.open(blob, ENVELOPE) == PAYLOAD
    assert keys.needs_resealing(blob)
    assert not keys.needs_resealing(keys.current().seal(PAYLOAD, ENVELOPE))


def test_envelope_and_row_ciphertexts_do_not_open_as_each_other(rotated: KeyRing) -> None:
    envelope = EnvelopeKeys(rotated).current().seal(PAYLOAD, ENVELOPE)
    row = rotated.seal(PAYLOAD, ENVELOPE)

    with pytest.raises(SealingError):
        rotated.open(envelope, ENVELOPE)
    with pytest.raises(SealingError):
        EnvelopeKeys(rotated).open(row, ENVELOPE)
