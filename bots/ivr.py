"""The hotline's IVR as TwiML: greet, choose a language, ring the on-duty staff, or record.

Each prompt plays the recording configured for it (VOICEDESK_HOTLINE_AUDIO, keyed
"my.menu", "th.voicemail"...) and is otherwise spoken. Twilio's voices speak Thai
and English; Burmese, Khmer and Nepali callers need recordings, and until an
operator adds them the spoken fallback is English.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo

from twilio.twiml.voice_response import Dial, Gather, VoiceResponse

from intake.settings import HotlineSettings
from translations.i18n import gettext as _t
from translations.scripts import WORKER_LANGUAGES, parse_number

# The voices Twilio has for our languages; the others fall back to English.
_VOICE_LANGUAGE = {"th": "th-TH", "en": "en-US"}


def _prompts(language: str) -> dict[str, str]:
    return {
        # TRANSLATORS: hotline menu, spoken or recorded in each language in turn.
        "menu": _t(language, "For this language, press %(digit)s."),
        # TRANSLATORS: hotline, before ringing a counsellor.
        "connecting": _t(language, "Please wait. We are calling a counsellor for you."),
        # TRANSLATORS: hotline voicemail prompt; the caller does not need to give a name.
        "voicemail": _t(
            language,
            "Nobody can answer now. Please tell us your problem after the beep. "
            "You do not need to say your name.",
        ),
        # TRANSLATORS: hotline, after a voicemail.
        "goodbye": _t(language, "Thank you. We will call you back."),
    }


def language_of_digit(digits: str | None) -> str | None:
    """1 Burmese, 2 Khmer, 3 Nepali, 4 Thai, pressed on any keypad."""
    number = parse_number(digits)
    if number is None or not 1 <= number <= len(WORKER_LANGUAGES):
        return None
    return WORKER_LANGUAGES[number - 1]


def _say(
    response: VoiceResponse | Gather,
    hotline: HotlineSettings,
    language: str,
    prompt: str,
    digit: int | None = None,
) -> None:
    recording = hotline.audio.get(f"{language}.{prompt}")
    if recording:
        response.play(recording)
        return
    spoken = language if language in _VOICE_LANGUAGE else "en"
    text = _prompts(spoken)[prompt]
    if digit is not None:
        text = text % {"digit": digit}
    response.say(text, language=_VOICE_LANGUAGE[spoken])


def menu(hotline: HotlineSettings, language_url: str) -> str:
    """Greet and offer the four languages; no answer goes on in no particular language."""
    response = VoiceResponse()
    gather = Gather(num_digits=1, action=language_url, method="POST", timeout=6)
    for digit, language in enumerate(WORKER_LANGUAGES, start=1):
        _say(gather, hotline, language, "menu", digit)
    response.append(gather)
    response.redirect(language_url, method="POST")
    return str(response)


def in_hours(hotline: HotlineSettings, now: dt.datetime) -> bool:
    if hotline.hours is None:
        return True
    local = now.astimezone(zoneinfo.ZoneInfo(hotline.timezone)).time()
    start, end = hotline.hours
    return start <= local < end if start <= end else (local >= start or local < end)


_E164 = re.compile(r"\+[1-9][0-9]{6,14}")


def connect_or_record(
    hotline: HotlineSettings,
    language: str | None,
    now: dt.datetime,
    hotline_number: str | None,
    dial_result_url: str,
    voicemail_url: str,
    recording_url: str,
) -> str:
    """Ring the on-duty staff in hours; otherwise, or with nobody on duty, record.

    Staff's phones show the hotline's number (Twilio's To), never the caller's: a To
    that is not an E.164 number cannot be shown, so the caller leaves a message instead.
    """
    shown = hotline_number if hotline_number and _E164.fullmatch(hotline_number) else None
    if hotline.numbers and in_hours(hotline, now) and shown:
        response = VoiceResponse()
        _say(response, hotline, language or "en", "connecting")
        # Staff see the hotline's number, never the caller's.
        dial = Dial(
            action=dial_result_url,
            method="POST",
            timeout=hotline.ring_seconds,
            caller_id=shown,
        )
        for number in hotline.numbers:
            dial.number(number)
        response.append(dial)
        return str(response)
    return record(hotline, language, voicemail_url, recording_url)


def record(
    hotline: HotlineSettings, language: str | None, voicemail_url: str, recording_url: str
) -> str:
    response = VoiceResponse()
    _say(response, hotline, language or "en", "voicemail")
    response.record(
        action=voicemail_url,
        method="POST",
        max_length=hotline.max_voicemail_seconds,
        play_beep=True,
        recording_status_callback=recording_url,
        recording_status_callback_method="POST",
        recording_status_callback_event="completed",
    )
    return str(response)


def goodbye(hotline: HotlineSettings, language: str | None) -> str:
    response = VoiceResponse()
    _say(response, hotline, language or "en", "goodbye")
    response.hangup()
    return str(response)


def hang_up() -> str:
    response = VoiceResponse()
    response.hangup()
    return str(response)
