"""The words a worker may send as a whole message to steer the bot, in every language.

Words of any language are understood whatever the worker's language: many type a
little English, or the language of their workplace. Only a whole message counts,
so "help, my boss took my passport" is a report, never a command; and whatever
the worker sends is stored in their ticket all the same.
"""

from __future__ import annotations

import unicodedata

from translations.scripts import parse_number

# command -> words, by language (for translators: short, the words people type)
COMMANDS: dict[str, dict[str, tuple[str, ...]]] = {
    "language": {
        "en": ("language", "lang"),
        "my": ("ဘာသာစကား", "ဘာသာ"),
        "km": ("ភាសា",),
        "ne": ("भाषा",),
        "th": ("ภาษา", "เปลี่ยนภาษา"),
    },
    "person": {
        "en": ("person", "human", "agent", "talk to a person"),
        "my": ("လူနဲ့ပြောမယ်", "လူနဲ့ပြောချင်တယ်", "ဝန်ထမ်း"),
        "km": ("និយាយជាមួយមនុស្ស", "មនុស្ស", "បុគ្គលិក"),
        "ne": ("मान्छे", "कर्मचारी", "मान्छेसँग कुरा"),
        "th": ("คุยกับเจ้าหน้าที่", "เจ้าหน้าที่", "คุยกับคน"),
    },
    "erase": {
        "en": ("erase", "delete", "erase my data", "delete my data"),
        "my": ("ဖျက်ပါ", "ဖျက်", "ငါ့အချက်အလက်ဖျက်ပါ"),
        "km": ("លុប", "លុបទិន្នន័យ"),
        "ne": ("मेटाउनुहोस्", "मेटाउ", "डाटा मेटाउनुहोस्"),
        "th": ("ลบ", "ลบข้อมูล", "ลบข้อมูลของฉัน"),
    },
    "help": {
        "en": ("help", "?", "menu"),
        "my": ("အကူအညီ", "ကူညီပါ"),
        "km": ("ជំនួយ",),
        "ne": ("मद्दत", "सहयोग"),
        "th": ("ช่วยเหลือ", "เมนู"),
    },
}
YES: dict[str, tuple[str, ...]] = {
    "en": ("yes", "y", "ok", "okay"),
    "my": ("ဟုတ်", "ဟုတ်ကဲ့", "ဟုတ်တယ်", "အင်း"),
    "km": ("បាទ", "ចាស", "បាទ/ចាស", "យល់ព្រម"),
    "ne": ("हो", "हजुर", "ठीक छ"),
    "th": ("ใช่", "ครับ", "ค่ะ", "โอเค", "ตกลง"),
}
NO: dict[str, tuple[str, ...]] = {
    "en": ("no", "n"),
    "my": ("မဟုတ်", "မဟုတ်ဘူး", "မလုပ်နဲ့"),
    "km": ("ទេ", "អត់ទេ", "មិនយល់ព្រម"),
    "ne": ("होइन", "पर्दैन"),
    "th": ("ไม่", "ไม่ใช่", "ไม่เอา"),
}


def _plain(text: str) -> str:
    """Casefold, NFC, and drop punctuation and spaces at the ends (and ZWSP inside)."""
    text = unicodedata.normalize("NFC", text).replace("\u200b", "").casefold().strip()
    return text.strip(" .!?,;:।။។-").strip() or text.strip()


def _index(table: dict[str, tuple[str, ...]]) -> frozenset[str]:
    return frozenset(_plain(word) for words in table.values() for word in words)


_COMMANDS = {command: _index(words) for command, words in COMMANDS.items()}
_YES = _index(YES)
_NO = _index(NO)


def command_of(text: str | None) -> str | None:
    """Return "language", "person", "erase" or "help" if the whole message is one of them."""
    if not text:
        return None
    plain = _plain(text)
    return next((command for command, words in _COMMANDS.items() if plain in words), None)


def yes_or_no(text: str | None) -> bool | None:
    """Read a yes or no in any language, or 1 (yes) and 2 (no) in any script's digits."""
    if not text:
        return None
    plain = _plain(text)
    number = parse_number(plain)
    if plain in _YES or number == 1:
        return True
    if plain in _NO or number == 2:
        return False
    return None


# Words a worker may type instead of pressing a validation button, beyond the buttons'
# own labels (which are matched too, in every language). Answer number -> words.
VALIDATION_WORDS: dict[int, dict[str, tuple[str, ...]]] = {
    1: {
        "en": ("fixed", "solved", "done", "resolved", "yes fixed", "ok fixed"),
        "my": (
            "ပြီးပြီ",
            "ဖြေရှင်းပြီးပြီ",
            "ဖြေရှင်းပြီး",
            "ရပြီ",
            "ရပါပြီ",
            "ပြင်ပြီးပြီ",
            "ပြေလည်ပြီ",
            "အဆင်ပြေပြီ",
        ),
        "km": ("ដោះស្រាយហើយ", "បានដោះស្រាយហើយ", "ដោះស្រាយរួចហើយ", "រួចហើយ", "បានហើយ"),
        "ne": ("समाधान भयो", "समाधान भइसक्यो", "भयो", "भइसक्यो", "मिल्यो", "सल्टियो"),
        "th": ("แก้แล้ว", "แก้ไขแล้ว", "แก้ได้แล้ว", "เรียบร้อย", "เรียบร้อยแล้ว", "ได้แล้ว"),
    },
    2: {
        "en": ("partly", "partly fixed", "partially", "some", "half"),
        "my": (
            "တစ်ဝက်",
            "တစ်ဝက်ပဲ",
            "တချို့",
            "တစ်ချို့",
            "တချို့ပဲ",
            "တစ်ချို့ပဲ",
            "တစ်ချို့ပဲဖြေရှင်းပြီး",
            "တစ်စိတ်တစ်ပိုင်း",
        ),
        "km": ("ខ្លះ", "បានខ្លះ", "ដោះស្រាយខ្លះ", "មួយផ្នែក", "ពាក់កណ្ដាល", "ពាក់កណ្តាល"),
        "ne": ("केही", "केही मात्र", "आधा", "आधा मात्र", "अलिअलि", "आंशिक"),
        "th": ("บางส่วน", "แก้บางส่วน", "แก้ได้บางส่วน", "ได้บางส่วน", "ครึ่งเดียว", "ได้ครึ่งเดียว"),
    },
    3: {
        "en": ("not fixed", "not solved", "nothing", "no change", "not done", "not yet"),
        "my": (
            "မပြီးသေး",
            "မပြီးသေးဘူး",
            "မရသေး",
            "မရသေးဘူး",
            "မဖြေရှင်းရသေး",
            "ဘာမှမပြောင်း",
            "ဘာမှ မပြောင်း",
            "ဘာမှမပြောင်းဘူး",
            "ဘာမှ မပြောင်းဘူး",
        ),
        "km": (
            "មិនទាន់",
            "មិនទាន់ទេ",
            "មិនទាន់ដោះស្រាយ",
            "មិនទាន់ដោះស្រាយទេ",
            "អត់ទាន់",
            "អត់ទាន់ទេ",
            "នៅដដែល",
        ),
        "ne": ("भएन", "अझै भएन", "समाधान भएन", "भएको छैन", "केही भएन", "मिलेन", "सल्टिएन"),
        "th": ("ยังไม่แก้", "ยังไม่ได้แก้", "ไม่ได้แก้", "ยังไม่ได้", "ยัง", "ยังไม่เรียบร้อย", "เหมือนเดิม"),
    },
}


def choice_of(
    text: str | None,
    count: int,
    labels: list[tuple[str, ...]] | None = None,
    words: dict[int, dict[str, tuple[str, ...]]] | None = None,
) -> int | None:
    """Read which of `count` numbered options a whole message picks, or None.

    A number in any script's digits (a button sends its number too), a button's label in
    any language (`labels`: one tuple of labels per language), or one of `words`.
    """
    if not text:
        return None
    plain = _plain(text)
    number = parse_number(plain)
    if number is not None:
        return number if 1 <= number <= count else None
    for options in labels or []:
        for position, label in enumerate(options, start=1):
            if plain == _plain(label):
                return position
    for position, table in (words or {}).items():
        if plain in _index(table):
            return position
    return None
