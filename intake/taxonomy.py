"""The issue taxonomy: the ILO's eleven forced-labour indicators and the network's work areas.

Admins add categories in the console; these are the ones every desk starts with. A
category of the `ilo` group marks a ticket urgent (forced labour or trafficking).
"""

from __future__ import annotations

from typing import NamedTuple

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
