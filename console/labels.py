"""The words the console shows for codes kept in the database (statuses, channels…)."""

from __future__ import annotations

from typing import Any

from flask import Flask

from console.i18n import _
from intake.models import Category
from intake.taxonomy import GROUPS, SEED

_SEEDED = {seed.code: seed.name for seed in SEED}


def status_label(code: str) -> str:
    labels = {
        # TRANSLATORS: ticket status: just arrived, nobody has looked at it yet.
        "new": _("New"),
        # TRANSLATORS: ticket status: a caseworker has read and categorised it.
        "triaged": _("Triaged"),
        # TRANSLATORS: ticket status: the business is fixing the problem.
        "in_remediation": _("In remediation"),
        # TRANSLATORS: ticket status: we asked the worker whether the fix really happened.
        "awaiting_validation": _("Awaiting the worker's confirmation"),
        # TRANSLATORS: ticket status: the worker confirmed the fix.
        "validated": _("Confirmed by the worker"),
        # TRANSLATORS: ticket status: the case is finished.
        "closed": _("Closed"),
    }
    return labels.get(code, code)


def channel_label(code: str) -> str:
    labels = {
        "telegram": "Telegram",
        "whatsapp": "WhatsApp",
        "viber": "Viber",
        # TRANSLATORS: text messages on a phone.
        "sms": _("SMS"),
        # TRANSLATORS: the phone hotline (calls).
        "voice": _("Hotline"),
        # TRANSLATORS: the practice chat inside the console.
        "simulator": _("Simulator"),
    }
    return labels.get(code, code)


def delivery_label(code: str) -> str:
    labels = {
        # TRANSLATORS: a message waiting to be sent to the worker.
        "queued": _("waiting to be sent"),
        # TRANSLATORS: a message handed to the app or phone network.
        "sent": _("sent"),
        # TRANSLATORS: a message that reached the worker's phone.
        "delivered": _("delivered"),
        # TRANSLATORS: the worker opened the message.
        "read": _("read"),
        # TRANSLATORS: a message that could not be delivered.
        "failed": _("not delivered"),
        "received": "",
    }
    return labels.get(code, code)


def kind_label(code: str) -> str:
    labels = {
        "text": "",
        # TRANSLATORS: kind of message: a photo.
        "photo": _("photo"),
        # TRANSLATORS: kind of message: a recorded voice message.
        "voice": _("voice message"),
        # TRANSLATORS: kind of message: a file.
        "document": _("document"),
        # TRANSLATORS: kind of message: a shared location.
        "location": _("location"),
        # TRANSLATORS: kind of message: a message the worker changed after sending.
        "edit": _("edited"),
        # TRANSLATORS: kind of message: a phone call to the hotline.
        "call": _("call"),
        # TRANSLATORS: kind of message: a recorded message left on the hotline.
        "voicemail": _("voicemail"),
        # TRANSLATORS: kind of message: a summary of a call, typed by hotline staff.
        "call_log": _("call summary"),
        # TRANSLATORS: kind of message: a sticker or something else with no text.
        "sticker": _("sticker"),
        "other": _("other"),
    }
    return labels.get(code, code)


def call_outcome_label(code: str) -> str:
    labels = {
        # TRANSLATORS: a call still going on.
        "in_progress": _("in progress"),
        # TRANSLATORS: a call staff answered.
        "answered": _("answered"),
        "voicemail": _("voicemail"),
        # TRANSLATORS: a call nobody answered, and the caller left no message.
        "missed": _("missed"),
    }
    return labels.get(code, code)


def category_label(category: Category) -> str:
    """A seeded category in the reader's language; one an admin added, as it was entered."""
    return _(_SEEDED[category.code]) if category.code in _SEEDED else category.name


def by_group(categories: list[Category]) -> list[tuple[str, list[Category]]]:
    """Categories grouped in taxonomy order (the ILO indicators first), not alphabetically."""
    groups: dict[str, list[Category]] = {}
    for category in categories:
        groups.setdefault(category.group, []).append(category)
    return list(groups.items())


def group_label(group: str) -> str:
    return _(GROUPS[group]) if group in GROUPS else group


def role_label(code: str) -> str:
    labels = {
        "admin": _("Administrator"),
        "supervisor": _("Supervisor"),
        "caseworker": _("Caseworker"),
        "hotline": _("Hotline staff"),
        # TRANSLATORS: a user from a brand or supplier who sees only aggregated figures.
        "partner": _("Partner viewer"),
    }
    return labels.get(code, code)


def business_kind_label(code: str) -> str:
    labels = {
        # TRANSLATORS: a company selling under its name, buying from suppliers.
        "brand": _("Brand"),
        # TRANSLATORS: a factory, farm or boat owner: the worker's employer.
        "supplier": _("Supplier or employer"),
        # TRANSLATORS: a company that recruits migrant workers.
        "agency": _("Recruitment agency"),
    }
    return labels.get(code, code)


def consent_label(code: str) -> str:
    labels = {
        # TRANSLATORS: how the worker agreed to be referred: by writing in the chat.
        "chat": _("in the chat"),
        # TRANSLATORS: how the worker agreed to be referred: on a phone call.
        "call": _("on a call"),
        # TRANSLATORS: how the worker agreed to be referred: face to face.
        "in_person": _("in person"),
    }
    return labels.get(code, code)


def validation_label(code: str | None) -> str:
    labels = {
        # TRANSLATORS: validation status: we asked the worker and wait for the answer.
        "requested": _("asked, waiting for the worker"),
        # TRANSLATORS: validation status: the worker confirmed the fix.
        "validated": _("confirmed by the worker"),
        # TRANSLATORS: validation status: the worker says it is not (fully) fixed.
        "disputed": _("disputed by the worker"),
        # TRANSLATORS: validation status: no answer from the worker by the deadline.
        "unvalidated": _("no answer by the deadline"),
        # TRANSLATORS: validation status: replaced by a newer request or a call.
        "withdrawn": _("replaced"),
    }
    return labels.get(code or "", code or "")


def answer_label(code: str | None) -> str:
    labels = {
        # TRANSLATORS: the worker's answer: the problem is fixed.
        "fixed": _("Fixed"),
        # TRANSLATORS: the worker's answer: only partly fixed.
        "partly_fixed": _("Partly fixed"),
        # TRANSLATORS: the worker's answer: not fixed.
        "not_fixed": _("Not fixed"),
        # TRANSLATORS: the worker's answer: wants to talk to a person.
        "person": _("Wants to talk to a person"),
    }
    return labels.get(code or "", code or "")


def closed_as_label(code: str | None) -> str:
    labels = {
        # TRANSLATORS: how a ticket closed: the worker confirmed the fix.
        "validated": _("confirmed by the worker"),
        # TRANSLATORS: how a ticket closed: it was only a question.
        "information_only": _("information only"),
        # TRANSLATORS: how a ticket closed: by a supervisor, without the worker's confirmation.
        "unvalidated": _("closed by a supervisor without the worker's confirmation"),
    }
    return labels.get(code or "", code or "")


def milestone_label(code: str) -> str:
    labels = {
        # TRANSLATORS: date the business first answered about the case.
        "first_response_on": _("First response"),
        # TRANSLATORS: date the business agreed a plan of action.
        "plan_agreed_on": _("Action plan agreed"),
        # TRANSLATORS: date the business says the actions are done.
        "actions_done_on": _("Actions done"),
        # TRANSLATORS: date the issue was resolved.
        "resolved_on": _("Resolved"),
    }
    return labels.get(code, code)


def repayment_kind_label(code: str) -> str:
    labels = {
        # TRANSLATORS: money owed to workers: recruitment fees they paid.
        "recruitment_fees": _("Recruitment fees"),
        # TRANSLATORS: money owed to workers: unpaid wages.
        "wages": _("Unpaid wages"),
        # TRANSLATORS: money owed to workers: anything else.
        "other": _("Other"),
    }
    return labels.get(code, code)


def standing_label(code: str) -> str:
    labels = {
        # TRANSLATORS: a repayment the business reports; the worker has not confirmed it yet.
        "claimed": _("reported by the business"),
        # TRANSLATORS: a repayment the worker confirmed.
        "confirmed": _("confirmed by the worker"),
        # TRANSLATORS: a repayment the worker says did not happen; not counted as repaid.
        "disputed": _("disputed by the worker: not counted"),
    }
    return labels.get(code, code)


def axis_label(code: str) -> str:
    labels = {
        # TRANSLATORS: Ethical Performance Score axis: how good the business's response was.
        "quality": _("Quality of response"),
        # TRANSLATORS: Ethical Performance Score axis: how fast the business responded.
        "timeliness": _("Timeliness"),
        # TRANSLATORS: Ethical Performance Score axis: how open the business is to change.
        "openness": _("Openness to reform"),
    }
    return labels.get(code, code)


def indicator_label(code: str) -> str:
    labels = {
        # TRANSLATORS: score: workers' satisfaction with the company's response.
        "worker_satisfaction_response": _("Workers' satisfaction with the response"),
        # TRANSLATORS: score: workers' satisfaction with recruitment and workplace management.
        "worker_satisfaction_workplace": _(
            "Workers' satisfaction with recruitment and workplace management"
        ),
        # TRANSLATORS: score: the network's technical assessment of the response by HR/social staff.
        "assessment_hr_social": _("Assessment of the response: HR and social"),
        # TRANSLATORS: score: technical assessment of the response by production/commercial staff.
        "assessment_production_commercial": _(
            "Assessment of the response: production and commercial"
        ),
        # TRANSLATORS: score: technical assessment of the response by senior management.
        "assessment_senior_management": _("Assessment of the response: senior management"),
        # TRANSLATORS: score: how quickly the business first responded.
        "time_to_respond": _("Time to respond"),
        # TRANSLATORS: score: how quickly the business came back on action plan items.
        "time_to_revert": _("Time to revert on action plan items"),
        # TRANSLATORS: score: how quickly the issue was resolved.
        "time_to_resolve": _("Time to resolve"),
        # TRANSLATORS: score: cooperation with worker voice, outreach and surveys.
        "cooperation_worker_voice": _("Cooperation with worker voice, outreach and surveys"),
        # TRANSLATORS: score: attitude to discussing issues and suggested remediation.
        "attitude_discussing_issues": _("Attitude to discussing issues and suggested remediation"),
        # TRANSLATORS: score: attitude to capacity and systems development.
        "attitude_capacity_systems": _("Attitude to capacity and systems development"),
        # TRANSLATORS: score: attitude to promoting worker voice upstream in the supply chain.
        "promoting_worker_voice_upstream": _("Attitude to promoting worker voice upstream"),
        # TRANSLATORS: score: attitude toward workers.
        "attitude_toward_workers": _("Attitude toward workers"),
        # TRANSLATORS: score: attitude toward the network's staff.
        "attitude_toward_staff": _("Attitude toward the network's staff"),
    }
    return labels.get(code, code)


def gender_label(code: str) -> str:
    labels = {
        # TRANSLATORS: gender option.
        "female": _("Woman"),
        # TRANSLATORS: gender option.
        "male": _("Man"),
        # TRANSLATORS: gender option: another gender, or prefers another word.
        "other": _("Another gender"),
    }
    return labels.get(code, code)


def reach_label(key: str) -> str:
    """A reach row: all workers, or those of one gender or nationality (ISO code)."""
    if key == "all":
        # TRANSLATORS: reach row: all workers.
        return _("All workers")
    dimension, _sep, value = key.partition(":")
    if value == "unknown":
        # TRANSLATORS: reach row: workers who did not say (gender or nationality).
        return _("Not said")
    return gender_label(value) if dimension == "gender" else value


def rating_label(code: str) -> str:
    labels = {
        # TRANSLATORS: rating of a remediation, from its scores: the worst of four.
        "poor": _("Poor"),
        # TRANSLATORS: rating of a remediation, from its scores: second of four.
        "fair": _("Fair"),
        # TRANSLATORS: rating of a remediation, from its scores: third of four.
        "good": _("Good"),
        # TRANSLATORS: rating of a remediation, from its scores: the best of four.
        "excellent": _("Excellent"),
    }
    return labels.get(code, code)


def partner_figure_label(code: str) -> str:
    """A figure of the partner dashboard and its CSV export, as a manager names it."""
    labels = {
        # TRANSLATORS: partner figure: distinct workers who raised an issue about the business.
        "workers": _("Workers reached"),
        # TRANSLATORS: partner figure: issues (cases) workers raised.
        "tickets": _("Issues raised"),
        # TRANSLATORS: partner figure: mean Ethical Performance Score on one axis (1 to 5).
        "axis_score": _("Average score"),
        # TRANSLATORS: partner figure: mean score on one axis in one quarter of the year.
        "axis_score_by_quarter": _("Average score in the quarter"),
        # TRANSLATORS: partner figure: share of workers' issues resolved in under 60 days.
        "resolved_within_60_days": _("Resolved in under 60 days"),
        # TRANSLATORS: partner figure: cases a supervisor closed without the worker's
        # confirmation; counted apart from the others.
        "closed_unvalidated": _("Closed without the worker's confirmation"),
        # TRANSLATORS: partner figure: share of remediations with this rating.
        "rating_share": _("Share of remediations"),
        # TRANSLATORS: partner figure: workers owed back recruitment fees they paid.
        "fees_eligible": _("Workers eligible for fee reimbursement"),
        # TRANSLATORS: partner figure: workers who got their recruitment fees back.
        "fees_reimbursed": _("Workers reimbursed their recruitment fees"),
        # TRANSLATORS: partner figure: share of eligible workers who got their fees back.
        "fees_reimbursed_share": _("Share of eligible workers reimbursed"),
        # TRANSLATORS: partner figure: money the business owes workers (fees, wages).
        "money_owed": _("Owed to workers"),
        # TRANSLATORS: partner figure: money the business repaid to workers.
        "money_repaid": _("Repaid"),
    }
    return labels.get(code, code)


def init_app(app: Flask) -> None:
    """Make the labels available to every template."""
    functions: dict[str, Any] = {
        "status_label": status_label,
        "channel_label": channel_label,
        "delivery_label": delivery_label,
        "kind_label": kind_label,
        "call_outcome_label": call_outcome_label,
        "category_label": category_label,
        "group_label": group_label,
        "by_group": by_group,
        "role_label": role_label,
        "business_kind_label": business_kind_label,
        "consent_label": consent_label,
        "validation_label": validation_label,
        "answer_label": answer_label,
        "closed_as_label": closed_as_label,
        "milestone_label": milestone_label,
        "repayment_kind_label": repayment_kind_label,
        "standing_label": standing_label,
        "axis_label": axis_label,
        "indicator_label": indicator_label,
        "gender_label": gender_label,
        "reach_label": reach_label,
        "rating_label": rating_label,
        "partner_figure_label": partner_figure_label,
    }
    app.jinja_env.globals.update(functions)
