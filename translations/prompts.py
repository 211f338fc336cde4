"""What the bot says to a worker, in the worker's language."""

from __future__ import annotations

from translations.i18n import gettext as _t
from translations.i18n import language_name
from translations.scripts import WORKER_LANGUAGES

# The order of the language menu; a worker answers with the number.
MENU_LANGUAGES = (*WORKER_LANGUAGES, "en")


def acknowledgement(language: str | None, ref: str) -> str:
    """The first answer to a new report: its reference, who answers, and the privacy note."""
    return "\n".join(
        [
            # TRANSLATORS: first reply to a worker's new report; %(ref)s is the case number
            # such as K7M-Q9P2. Short, warm sentences for readers with little schooling.
            _t(language, "Thank you. We got your message. Your case number is %(ref)s.")
            % {"ref": ref},
            # TRANSLATORS: follows the case number in the first reply.
            _t(language, "A caseworker will answer you here."),
            privacy_note(language),
        ]
    )


def privacy_note(language: str | None) -> str:
    # TRANSLATORS: one-line privacy promise; "employer" includes brokers and agents.
    return _t(
        language, "Your name and phone number stay secret. We never give them to your employer."
    )


def added_to_case(language: str | None, ref: str) -> str:
    # TRANSLATORS: reply to a further message on an open case; %(ref)s is the case number.
    return _t(language, "We added your message to case %(ref)s.") % {"ref": ref}


def language_menu() -> tuple[str, tuple[str, ...]]:
    """The prompt (in every worker language at once) and the numbered options."""
    prompt = "\n".join(
        # TRANSLATORS: shown when we cannot tell the worker's language; they answer with a number.
        _t(language, "Choose your language. Send the number.")
        for language in MENU_LANGUAGES
    )
    return prompt, tuple(language_name(language) for language in MENU_LANGUAGES)
