"""The issue taxonomy: the ILO's eleven forced-labour indicators and the network's work areas.

Admins add categories in the console; these are the ones every desk starts with. A
category of the `ilo` group marks a ticket urgent (forced labour or trafficking).
"""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from intake.errors import Conflict, Invalid
from intake.models import Category, User
from safeguards import audit
from safeguards.access import require
from translations.i18n import N_


class Seed(NamedTuple):
    code: str
    group: str
    name: str


URGENT_GROUP = "ilo"
INFORMATION_GROUP = "information"

GROUPS = {
    "ilo": N_("Forced labour indicators (ILO)"),
    "recruitment": N_("Labour recruitment"),
    "conditions": N_("Working conditions"),
    "relations": N_("Employer–employee relations"),
    "living": N_("Living and eating conditions"),
    "information": N_("Information and help"),
}

# Append only: the migration that seeds them and every ticket refer to these codes.
SEED = (
    Seed("abuse_of_vulnerability", "ilo", N_("Abuse of vulnerability")),
    Seed("deception", "ilo", N_("Deception")),
    Seed("restriction_of_movement", "ilo", N_("Restriction of movement")),
    Seed("isolation", "ilo", N_("Isolation")),
    Seed("physical_sexual_violence", "ilo", N_("Physical and sexual violence")),
    Seed("intimidation_threats", "ilo", N_("Intimidation and threats")),
    Seed("retention_of_documents", "ilo", N_("Retention of identity documents")),
    Seed("withholding_of_wages", "ilo", N_("Withholding of wages")),
    Seed("debt_bondage", "ilo", N_("Debt bondage")),
    Seed("abusive_conditions", "ilo", N_("Abusive working and living conditions")),
    Seed("excessive_overtime", "ilo", N_("Excessive overtime")),
    Seed("recruitment_fees", "recruitment", N_("Recruitment fees")),
    Seed("contract_substitution", "recruitment", N_("Contract substitution")),
    Seed("job_deception", "recruitment", N_("Deception about the job")),
    Seed("wages", "conditions", N_("Wages")),
    Seed("working_hours", "conditions", N_("Working hours")),
    Seed("leave", "conditions", N_("Leave")),
    Seed("safety", "conditions", N_("Health and safety")),
    Seed("discrimination", "conditions", N_("Discrimination")),
    Seed("harassment", "conditions", N_("Harassment")),
    Seed("grievance_handling", "relations", N_("Grievance handling")),
    Seed("retaliation", "relations", N_("Retaliation")),
    Seed("living_conditions", "living", N_("Dormitory and living conditions")),
    Seed("food_water", "living", N_("Food and water")),
    Seed("information_request", "information", N_("Request for information or help")),
)


# --- editing the taxonomy (admins) -------------------------------------------------------


def add_category(session: Session, user: User, code: str, group: str, name: str) -> Category:
    """Add a category to the taxonomy (shown as entered: it has no translations yet)."""
    require(user, "taxonomy.edit")
    code = code.strip().lower().replace(" ", "_")
    if not code.replace("_", "").isalnum() or len(code) > 48 or group not in GROUPS:
        raise Invalid(N_("A category needs a short code of letters, digits and _ and a group."))
    name = " ".join(name.split())
    if not name or len(name) > 120:
        raise Invalid(N_("A category needs a name of at most 120 characters."))
    last = session.scalar(select(Category.position).order_by(Category.position.desc()).limit(1))
    category = Category(code=code, group=group, name=name, position=(last or 0) + 1, active=True)
    try:
        with session.begin_nested():
            session.add(category)
    except IntegrityError as exc:
        raise Conflict(N_("A category with that code exists.")) from exc
    audit.record(
        session, actor=f"user:{user.id}", action="taxonomy.added", target=f"category:{code}"
    )
    return category


def set_category_active(session: Session, user: User, category_id: int, active: bool) -> None:
    """Retire a category (tickets keep it) or bring it back."""
    require(user, "taxonomy.edit")
    category = session.get(Category, category_id)
    if category is None:
        raise Invalid(N_("Unknown category."))
    category.active = active
    audit.record(
        session,
        actor=f"user:{user.id}",
        action="taxonomy.active" if active else "taxonomy.retired",
        target=f"category:{category.code}",
    )
