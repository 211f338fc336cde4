"""What the bot says to a worker, in the worker's language."""

from __future__ import annotations

from translations.i18n import gettext as _t
from translations.i18n import language_name
from translations.scripts import WORKER_LANGUAGES
from translations.words import COMMANDS

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


def yes_no_options(language: str | None) -> tuple[str, str]:
    # TRANSLATORS: the two buttons of a yes/no question; very short.
    return _t(language, "Yes"), _t(language, "No")


def language_changed(language: str | None) -> str:
    # TRANSLATORS: after the worker picks a new language in the middle of a conversation.
    return _t(language, "OK. We will write to you in this language.")


def person_requested(language: str | None) -> str:
    # TRANSLATORS: the worker asked to talk to a person (not the bot).
    return _t(language, "A person from our team will answer you here soon.")


def erase_question(language: str | None) -> str:
    # TRANSLATORS: the worker asked to erase their data; we ask once more before we do it.
    return _t(
        language,
        "Do you want us to erase your messages and your phone number? "
        "We cannot undo this. Answer 1 for yes or 2 for no.",
    )


def erased(language: str | None) -> str:
    # TRANSLATORS: last message before the worker's data is erased.
    return _t(language, "We erased your messages and your number. You can write again any time.")


def nothing_erased(language: str | None) -> str:
    # TRANSLATORS: the worker answered no to the erase question.
    return _t(language, "Nothing was erased.")


def help_text(language: str | None) -> str:
    """What the worker can do, with the words to send in their own language."""
    words = {command: COMMANDS[command].get(language or "en", COMMANDS[command]["en"])[0]
             for command in ("language", "person", "erase")}  # fmt: skip
    return "\n".join(
        [
            # TRANSLATORS: help, first line.
            _t(language, "Write your problem in your own words. A caseworker will answer."),
            # TRANSLATORS: help; %(word)s is the word to send, already in the worker's language.
            _t(language, "To change the language, send: %(word)s") % {"word": words["language"]},
            # TRANSLATORS: help; %(word)s is the word to send.
            _t(language, "To talk to a person, send: %(word)s") % {"word": words["person"]},
            # TRANSLATORS: help; %(word)s is the word to send.
            _t(language, "To erase your data, send: %(word)s") % {"word": words["erase"]},
        ]
    )


def saved_replies(language: str | None) -> list[tuple[str, str]]:
    """Replies a caseworker sends often, in the worker's language: (key, text)."""
    return [
        # TRANSLATORS: saved reply a caseworker sends; we are working on the case.
        ("working", _t(language, "We are working on your case. We will write to you again soon.")),
        # TRANSLATORS: saved reply; ask where the worker works, promising discretion.
        (
            "workplace",
            _t(
                language,
                "Please tell us the name of your workplace and the town. Only our team sees it.",
            ),
        ),
        # TRANSLATORS: saved reply; suggest a phone call to our hotline.
        (
            "call",
            _t(
                language,
                "You can call our hotline when it is safe for you. We speak your language.",
            ),
        ),
        # TRANSLATORS: saved reply; keep evidence only if it is safe to do so.
        (
            "evidence",
            _t(
                language,
                "If it is safe, keep photos of your contract, pay slips and passport.",
            ),
        ),
        # TRANSLATORS: saved reply for an emergency.
        (
            "danger",
            _t(
                language,
                "If you are in danger now, tell us where you are. We will get help quickly.",
            ),
        ),
    ]


# --- worker validation ----------------------------------------------------------------


def validation_options(language: str | None) -> tuple[str, str, str, str]:
    """The four answers, in the order INTERFACE.md fixes (the worker may send 1 to 4)."""
    return (
        # TRANSLATORS: button: the problem is fixed. Very short.
        _t(language, "Fixed"),
        # TRANSLATORS: button: the problem is only partly fixed. Very short.
        _t(language, "Partly fixed"),
        # TRANSLATORS: button: the problem is not fixed. Very short.
        _t(language, "Not fixed"),
        # TRANSLATORS: button: the worker wants to talk to a person. Very short.
        _t(language, "Talk to a person"),
    )


def validation_question(language: str | None, ref: str, summary: str) -> str:
    """Ask whether what the business says it did really happened.

    `summary` is the caseworker's own words naming what was fixed.
    """
    return "\n".join(
        [
            # TRANSLATORS: asks the worker to check a fix; %(ref)s is the case number. The
            # next line is what the employer says it did, in the caseworker's words.
            _t(language, "About your case %(ref)s, the employer says this was done:")
            % {"ref": ref},
            summary,
            # TRANSLATORS: after what the employer says it did. The worker answers 1 to 4.
            _t(language, "Is it really fixed? Send the number of your answer."),
        ]
    )


def validation_reminder(language: str | None, ref: str, summary: str) -> str:
    # TRANSLATORS: first line of a reminder, when the worker has not answered yet.
    first = _t(language, "We are still waiting for your answer.")
    return first + "\n" + validation_question(language, ref, summary)


def validation_again(language: str | None) -> str:
    # TRANSLATORS: the worker's answer was not one of the choices; we ask once more.
    return _t(
        language,
        "We keep what you wrote. Is the problem fixed? Please send a number from 1 to 4.",
    )


def satisfaction_options(language: str | None) -> tuple[str, str, str, str, str]:
    return (
        # TRANSLATORS: button 1 of 5, satisfaction. Very short.
        _t(language, "Very unhappy"),
        # TRANSLATORS: button 2 of 5, satisfaction. Very short.
        _t(language, "Unhappy"),
        # TRANSLATORS: button 3 of 5, satisfaction: neither happy nor unhappy. Very short.
        _t(language, "OK"),
        # TRANSLATORS: button 4 of 5, satisfaction. Very short.
        _t(language, "Happy"),
        # TRANSLATORS: button 5 of 5, satisfaction. Very short.
        _t(language, "Very happy"),
    )


def satisfaction_question(language: str | None) -> str:
    # TRANSLATORS: asked after the worker said whether the problem is fixed; answer 1 to 5.
    return _t(
        language,
        "How happy are you with what the employer did? "
        "Send a number from 1 (very unhappy) to 5 (very happy).",
    )


def satisfaction_again(language: str | None) -> str:
    # TRANSLATORS: the worker's answer to the 1-5 question was not a number from 1 to 5.
    return _t(language, "Please send a number from 1 to 5.")


def validation_thanks(language: str | None, fixed: bool, ref: str) -> str:
    if fixed:
        # TRANSLATORS: last message after the worker confirmed the fix; %(ref)s: case number.
        return _t(language, "Thank you. We are glad it is fixed. Case %(ref)s can now close.") % {
            "ref": ref
        }
    # TRANSLATORS: last message after the worker said it is not (fully) fixed.
    return _t(
        language,
        "Thank you for telling us. We keep working on case %(ref)s. "
        "You can write here what is still wrong.",
    ) % {"ref": ref}
