"""A wrong key fails at start, loudly: each key's check value is kept beside the data.

A process started with the wrong content ring would take messages in and then fail
to open every one of them; with the wrong pepper it would give every worker a new
pseudonym and so a new ticket, silently splitting their case. So every process, as
it starts, compares the keys it holds with the check values in the database
(HMAC-SHA256 of a fixed label under the key: it tells whether two keys are the same
and nothing about either), and records those of keys it is the first to hold.

- A key id the database knows with another value: refuse to start.
- A ring that holds none of the keys the database knows: refuse to start.
- A key the database knows that the ring no longer holds (dropped after rotation):
  a warning naming it, since what it sealed no longer opens.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from intake.models import KeyCheck
from safeguards.sealing import KeyRing

logger = logging.getLogger(__name__)

_LABEL = b"voicedesk key check v1"
PEPPER = "pepper"


class WrongKey(RuntimeError):
    """A key this process holds is not the key the data was sealed or hashed with."""


def check_value(key: bytes) -> bytes:
    return hmac.new(key, _LABEL, hashlib.sha256).digest()[:16]


def _held(rings: list[KeyRing], pepper: bytes | None) -> dict[tuple[str, str], bytes]:
    held = {(ring.name, kid): check_value(ring.key(kid)) for ring in rings for kid in ring.key_ids}
    if pepper is not None:
        held[(PEPPER, PEPPER)] = check_value(pepper)
    return held


def check_keys_at_start(
    sessions: Callable[[], Session], rings: list[KeyRing], pepper: bytes | None = None
) -> None:
    """`check_keys`, unless the database is down: a web process must still start and answer
    503 so providers retry (the check runs at the next start that reaches the database)."""
    try:
        with sessions() as session:
            check_keys(session, rings, pepper)
    except OperationalError:
        logger.warning("database unreachable at start: keys not checked against it")


def check_keys(session: Session, rings: list[KeyRing], pepper: bytes | None = None) -> None:
    """Refuse to go on with a key that is not the data's; record keys seen the first time.

    Commits what it records. Raises WrongKey naming the ring and key id, never a key.
    """
    held = _held(rings, pepper)
    names = {name for name, _ in held}
    known = {
        (row.ring, row.kid): row.check
        for row in session.scalars(select(KeyCheck).where(KeyCheck.ring.in_(names)))
    }
    for (ring, kid), value in held.items():
        recorded = known.get((ring, kid))
        if recorded is not None and not hmac.compare_digest(recorded, value):
            if ring == PEPPER:
                raise WrongKey(
                    "VOICEDESK_PSEUDONYM_PEPPER is not the pepper this database's pseudonyms "
                    "were made with: every worker would get a new pseudonym and a new ticket"
                )
            raise WrongKey(
                f"the {ring} key ring's key {kid!r} is not the key of that id that sealed "
                "this database's data: nothing it sealed would open"
            )
    for name in names:
        recorded_ids = {kid for ring, kid in known if ring == name}
        if not recorded_ids:
            continue
        held_ids = {kid for ring, kid in held if ring == name}
        if not recorded_ids & held_ids:
            raise WrongKey(
                f"the {name} key ring holds none of the keys that sealed this database's data "
                f"(it knows {sorted(recorded_ids)}): nothing would open"
            )
        for kid in sorted(recorded_ids - held_ids):
            logger.warning(
                "the %s key ring no longer holds key %r: what it sealed does not open", name, kid
            )
    new = [(ring, kid, value) for (ring, kid), value in held.items() if (ring, kid) not in known]
    if not new:
        return
    session.add_all(KeyCheck(ring=ring, kid=kid, check=value) for ring, kid, value in new)
    try:
        session.commit()
    except IntegrityError:
        # Another process recorded the same keys a moment ago: compare with theirs.
        session.rollback()
        check_keys(session, rings, pepper)
