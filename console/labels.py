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
    }
    app.jinja_env.globals.update(functions)
