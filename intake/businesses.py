"""The directory of businesses tickets are about: brands, suppliers and employers, agencies.

Brands link to the suppliers they buy from, so a brand's indicators can count the
tickets about its supply chain. Names of businesses are not a worker's data and are
kept in the clear.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from intake.db import utcnow
from intake.errors import Conflict, Invalid
from intake.models import Business, BusinessKind, SupplyLink, User
from safeguards import audit
from safeguards.access import require
from translations.i18n import N_


def directory(
    session: Session, kind: str | None = None, query: str = "", limit: int = 200
) -> list[Business]:
    """Businesses by name, optionally of one kind or matching a part of the name."""
    statement = select(Business).order_by(Business.name).limit(limit)
    if kind:
        statement = statement.where(Business.kind == kind)
    if query.strip():
        statement = statement.where(Business.name.ilike(f"%{query.strip()}%"))
    return list(session.scalars(statement))


def add_business(
    session: Session, user: User, name: str, kind: str, country: str | None, sector: str | None
) -> Business:
    require(user, "directory.edit")
    name = " ".join(name.split())
    if not name or len(name) > 200:
        raise Invalid(N_("A business needs a name of at most 200 characters."))
    if kind not in {k.value for k in BusinessKind}:
        raise Invalid(N_("A business is a brand, a supplier or an agency."))
    business = Business(
        name=name,
        kind=kind,
        country=(country or "").strip().upper()[:2] or None,
        sector=(sector or "").strip()[:40] or None,
        created_at=utcnow(),
    )
    try:
        with session.begin_nested():
            session.add(business)
    except IntegrityError as exc:
        raise Conflict(N_("That business is in the directory already.")) from exc
    audit.record(
        session, actor=f"user:{user.id}", action="directory.added", target=f"business:{business.id}"
    )
    return business


def link_supplier(session: Session, user: User, brand_id: int, supplier_id: int) -> None:
    """Record that a brand buys from a supplier."""
    require(user, "directory.edit")
    brand, supplier = session.get(Business, brand_id), session.get(Business, supplier_id)
    if (
        brand is None
        or brand.kind != BusinessKind.BRAND
        or supplier is None
        or supplier.kind != BusinessKind.SUPPLIER
    ):
        raise Invalid(N_("Only a brand can be linked to a supplier."))
    if session.get(SupplyLink, (brand_id, supplier_id)) is None:
        session.add(SupplyLink(brand_id=brand_id, supplier_id=supplier_id))
        audit.record(
            session,
            actor=f"user:{user.id}",
            action="directory.supply_link",
            target=f"business:{brand_id}",
            supplier=supplier_id,
        )


def suppliers_of(session: Session, brand_id: int) -> list[Business]:
    return list(
        session.scalars(
            select(Business)
            .join(SupplyLink, SupplyLink.supplier_id == Business.id)
            .where(SupplyLink.brand_id == brand_id)
            .order_by(Business.name)
        )
    )


def brands_of(session: Session, supplier_id: int) -> list[Business]:
    return list(
        session.scalars(
            select(Business)
            .join(SupplyLink, SupplyLink.brand_id == Business.id)
            .where(SupplyLink.supplier_id == supplier_id)
            .order_by(Business.name)
        )
    )
