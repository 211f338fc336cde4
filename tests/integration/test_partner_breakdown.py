"""A brand's table beside its roll-up: small rows withheld and pooled, and when the pool
is still too small, the smallest shown row withheld too (secondary suppression)."""

from __future__ import annotations

from intake import indicators
from intake.conversation import worker_for
from intake.models import Business, SupplyLink, TicketBusiness
from intake.tickets import create_ticket


def _chain(desk, sizes: dict[str, int]) -> Business:
    """A brand buying from one supplier per size, each with that many workers' tickets."""
    organisation = desk.organisation("Mae Sot Migrant Centre")
    with desk.rt.session() as session:
        brand = Business(name="Brand", kind="brand")
        session.add(brand)
        session.flush()
        for name, size in sizes.items():
            supplier = Business(name=name, kind="supplier")
            session.add(supplier)
            session.flush()
            session.add(SupplyLink(brand_id=brand.id, supplier_id=supplier.id))
            for n in range(size):
                worker = worker_for(session, f"{name}-{n}", "telegram")
                ticket = create_ticket(session, worker, "telegram", "th", organisation, "TH")
                session.flush()
                session.add(TicketBusiness(ticket_id=ticket.id, business_id=supplier.id))
        session.commit()
        session.expunge(brand)
        return brand


def _published(desk, brand: Business) -> dict[str, object]:
    with desk.rt.session() as session:
        brand = session.merge(brand)
        return {
            (part.name if part else "pooled"): indicators.publish(impact.workers, desk.settings)
            for part, impact in indicators.breakdown(session, brand, desk.settings)
        }


def test_small_suppliers_are_withheld_and_shown_pooled_when_the_pool_is_big_enough(desk) -> None:
    brand = _chain(desk, {"S3": 3, "S9": 9, "S50": 50})
    # 3 + 9 = 12 workers pooled (published 10); the 50 stands alone.
    assert _published(desk, brand) == {"S3": "<10", "S9": "<10", "S50": 50, "pooled": 10}


def test_a_pool_too_small_takes_the_smallest_shown_row_with_it(desk) -> None:
    brand = _chain(desk, {"S3": 3, "S12": 12, "S40": 40})
    # Alone, the pool (3) would read "<10" while roll-up minus S12 and S40 gave the 3
    # away: S12 is withheld too and pooled, 15 workers, published 15.
    assert _published(desk, brand) == {"S3": "<10", "S12": "<10", "S40": 40, "pooled": 15}


def test_one_small_supplier_alone_is_withheld_and_not_pooled_by_itself(desk) -> None:
    brand = _chain(desk, {"S4": 4})
    assert _published(desk, brand) == {"S4": "<10"}
