"""The channels this deployment has switched on, by name."""

from __future__ import annotations

from collections.abc import Callable

from bots.base import Channel, Outgoing
from bots.simulator import SimulatorChannel
from bots.telegram import TelegramChannel
from bots.twilio import TwilioMessaging, TwilioVoice
from bots.viber import ViberChannel
from intake.settings import Settings
from translations.prompts import language_menu


def _no_reply_sink(chat: str, text: str) -> None:
    raise RuntimeError("this process does not deliver simulator replies")


def build_channels(
    settings: Settings, record_simulator_reply: Callable[[str, str], None] | None = None
) -> dict[str, Channel]:
    """Return every configured channel; a channel whose settings are absent is off."""
    channels: dict[str, Channel] = {}
    if settings.telegram is not None:
        channels["telegram"] = TelegramChannel(
            settings.telegram.bot_token,
            settings.telegram.webhook_secret,
            settings.telegram.api_base,
        )
    if settings.twilio is not None:
        channels["whatsapp"] = TwilioMessaging("whatsapp", settings.twilio)
        channels["sms"] = TwilioMessaging("sms", settings.twilio)
        channels["voice"] = TwilioVoice(settings.twilio)
    if settings.viber is not None:
        prompt, options = language_menu()
        channels["viber"] = ViberChannel(settings.viber, Outgoing(prompt, options))
    if settings.simulator_enabled:
        channels["simulator"] = SimulatorChannel(record_simulator_reply or _no_reply_sink)
    return channels
