"""No missing-glyph boxes: the fonts the console serves draw every word it shows.

The font-coverage check always runs. The headless Chromium check runs where
/usr/bin/chromium (or chromium on PATH) exists, with the machine's own fonts hidden,
so the worker scripts can only come from the fonts the console serves.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import struct
import subprocess
import tomllib
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from fontTools.ttLib import TTFont

import console
import translations
from translations.formatting import CURRENCIES, format_date, format_datetime, format_money
from translations.i18n import UI_LANGUAGES, language_name
from translations.scripts import WORKER_LANGUAGES, detect_language

STATIC = Path(console.__file__).parent / "static"
LOCALE_DIR = Path(translations.__file__).parent / "locale"
PYPROJECT = Path(console.__file__).parent.parent / "pyproject.toml"
FONT_FACE = re.compile(r"@font-face\s*\{(.*?)\}", re.S)
RANGE = re.compile(r"U\+([0-9A-Fa-f]+)(?:-([0-9A-Fa-f]+))?")
MOMENT = dt.datetime(2026, 3, 5, 14, 7, tzinfo=dt.UTC)
# What a worker might first write, in each language.
FIRST_WORDS = {
    "my": "မင်္ဂလာပါ။ လစာ မရသေးပါဘူး",
    "km": "សួស្តី ខ្ញុំមិនទាន់បានប្រាក់ខែទេ",
    "ne": "नमस्ते, मेरो पासपोर्ट कम्पनीले राखेको छ",
    "th": "สวัสดีค่ะ นายจ้างไม่จ่ายค่าแรง",
}
SCRIPT_FONTS = {
    "my": "NotoSansMyanmar",
    "km": "NotoSansKhmer",
    "ne": "NotoSansDevanagari",
    "th": "NotoSansThai",
}


@dataclass(frozen=True)
class Face:
    family: str
    weight: int
    path: Path
    unicode_range: frozenset[int]
    cmap: frozenset[int]

    def draws(self, char: str) -> bool:
        return ord(char) in self.unicode_range and ord(char) in self.cmap


def _declaration(block: str, name: str) -> str:
    found = re.search(rf"{name}\s*:\s*([^;]+);", block)
    assert found is not None, f"@font-face without {name}: {block}"
    return found.group(1).strip()


def _unicode_range(value: str) -> frozenset[int]:
    points: set[int] = set()
    for low, high in RANGE.findall(value):
        points.update(range(int(low, 16), int(high or low, 16) + 1))
    return frozenset(points)


def font_faces() -> list[Face]:
    """The @font-face rules of console.css, each with the font file's character map."""
    css = (STATIC / "console.css").read_text(encoding="utf-8")
    faces = []
    for block in FONT_FACE.findall(css):
        source = re.search(r'url\("([^"]+)"\)', _declaration(block, "src"))
        assert source is not None, block
        path = STATIC / source.group(1)
        with TTFont(path) as font:
            cmap = frozenset(font.getBestCmap())
            family = font["name"].getDebugName(1)
        declared = _declaration(block, "font-family").strip("\"'")
        assert family == declared, f"{path.name} is {family!r}, declared as {declared!r}"
        faces.append(
            Face(
                family=declared,
                weight=int(_declaration(block, "font-weight")),
                path=path,
                unicode_range=_unicode_range(_declaration(block, "unicode-range")),
                cmap=cmap,
            )
        )
    return faces


def drawn_by_the_system(char: str) -> bool:
    """Latin, common punctuation and invisible format characters: any system sans has them."""
    code = ord(char)
    return code < 0x0250 or 0x2000 <= code <= 0x206F or unicodedata.category(char) == "Cf"


def catalog_texts() -> Iterator[tuple[str, str]]:
    """(where, text) for every source string and translation of both domains."""
    for path in sorted(LOCALE_DIR.glob("*/LC_MESSAGES/*.po")):
        with path.open("rb") as handle:
            catalog = read_po(handle)
        where = str(path.relative_to(LOCALE_DIR))
        for message in catalog:
            if not message.id:
                continue
            for text in (message.id, message.string):
                for part in (text,) if isinstance(text, str) else text:
                    yield where, part


def formatted_texts() -> Iterator[tuple[str, str]]:
    """What the console writes itself: language names, dates and money in each locale."""
    for language in UI_LANGUAGES:
        yield "language names", language_name(language)
        yield f"dates ({language})", format_datetime(MOMENT, language)
        yield f"dates ({language})", format_date(MOMENT, language, width="long")
        for currency in CURRENCIES:
            yield f"money ({language})", format_money(123456, currency, language)


def test_catalogs_hold_text_in_every_worker_script() -> None:
    scripts = {detect_language(text) for _where, text in catalog_texts()}

    assert set(WORKER_LANGUAGES) <= scripts


@pytest.mark.parametrize("weight", [400, 700])
def test_served_fonts_draw_every_character_the_console_shows(weight: int) -> None:
    faces = [face for face in font_faces() if face.weight == weight]
    missing: dict[str, set[str]] = {}
    for where, text in [*catalog_texts(), *formatted_texts()]:
        for char in set(text):
            if drawn_by_the_system(char) or any(face.draws(char) for face in faces):
                continue
            name = unicodedata.name(char, "?")
            missing.setdefault(where, set()).add(f"U+{ord(char):04X} {name}")

    assert missing == {}, f"no served font at weight {weight} draws these"


def test_each_worker_script_has_a_regular_and_a_bold_face() -> None:
    samples = {"my": "မြန်မာ", "km": "ខ្មែរ", "ne": "नेपाली", "th": "ไทย"}
    faces = font_faces()

    for language, sample in samples.items():
        for weight in (400, 700):
            drawing = [f for f in faces if f.weight == weight and all(map(f.draws, sample))]
            assert drawing, f"no {weight} face draws {language}"


def test_fonts_ship_in_the_package_with_their_licence() -> None:
    package_data = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["tool"]["setuptools"][
        "package-data"
    ]["*"]
    css = (STATIC / "console.css").read_text(encoding="utf-8")

    assert "*.ttf" in package_data
    assert "*.txt" in package_data
    assert "SIL Open Font License" in (STATIC / "fonts" / "OFL.txt").read_text(encoding="utf-8")
    assert "font-display: swap" in css
    assert "//" not in re.sub(r"/\*.*?\*/", "", css, flags=re.S), "a remote font or import"
    for face in font_faces():
        assert face.path.parent == STATIC / "fonts"


def test_console_serves_the_fonts_itself(live_console) -> None:
    for face in font_faces():
        answer = live_console.client.get(f"/static/fonts/{face.path.name}")
        assert answer.status_code == 200, face.path.name
        assert answer.mimetype == "font/ttf"
        assert answer.data == face.path.read_bytes()
        answer.close()


# --- headless Chromium ---------------------------------------------------------------


def _chromium() -> str | None:
    if Path("/usr/bin/chromium").exists():
        return "/usr/bin/chromium"
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _fontconfig_without_script_fonts(folder: Path) -> Path:
    """A fontconfig that shows Chromium one Latin family and nothing for the worker scripts."""
    latin = [d for d in ("/usr/share/fonts/truetype/dejavu",) if Path(d).is_dir()]
    dirs = "".join(f"<dir>{d}</dir>" for d in latin)
    config = folder / "fonts.conf"
    config.write_text(
        '<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd"><fontconfig>'
        f"{dirs}<cachedir>{folder / 'cache'}</cachedir>"
        # Whatever family a page asks for, fall back to DejaVu Sans rather than the first font.
        '<match target="pattern"><edit name="family" mode="append_last">'
        "<string>DejaVu Sans</string></edit></match>"
        "</fontconfig>",
        encoding="utf-8",
    )
    return config


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def screenshot(chromium: str, url: str, out: Path, folder: Path) -> bytes:
    """Open the page in a fresh headless Chromium profile and save what it shows."""
    profile = folder / f"profile-{out.stem}"
    env = {**os.environ, "FONTCONFIG_FILE": str(_fontconfig_without_script_fonts(folder))}
    subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            f"--screenshot={out}",
            "--window-size=900,700",
            # Let the web fonts arrive (font-display: swap draws a fallback first).
            "--virtual-time-budget=10000",
            url,
        ],
        check=True,
        capture_output=True,
        timeout=120,
        env=env,
    )
    return out.read_bytes()


def _chromium_or_skip() -> str:
    chromium = _chromium()
    if chromium is None:
        pytest.skip("chromium is not installed; the font-coverage tests above still ran")
    return chromium


def assert_page_drawn_with_the_served_fonts(
    live_console, path: str, language: str, folder: Path
) -> None:
    """Screenshot the page, then again with the language's font refused: they must differ."""
    chromium = _chromium_or_skip()
    live_console.accept_language = language
    live_console.block_fonts = None
    shown = screenshot(chromium, f"{live_console.url}{path}", folder / f"{language}.png", folder)

    assert _png_size(shown) == (900, 700)
    assert len(shown) > 5_000, "a blank page"
    if language == "en":
        return
    # Without this script's font only missing-glyph boxes are left for the script, so a
    # page that looks the same would prove the served font drew nothing.
    live_console.block_fonts = SCRIPT_FONTS[language]
    without = screenshot(chromium, f"{live_console.url}{path}", folder / "blocked.png", folder)
    assert _png_size(without) == (900, 700)
    looks_the_same = shown == without
    assert not looks_the_same, f"the served {SCRIPT_FONTS[language]} changed nothing on {path}"


@pytest.mark.parametrize("language", UI_LANGUAGES)
def test_login_page_renders_in_chromium_with_the_served_fonts(
    live_console, tmp_path: Path, language: str
) -> None:
    assert_page_drawn_with_the_served_fonts(live_console, "/login", language, tmp_path)


@pytest.mark.parametrize(("language", "typed"), sorted(FIRST_WORDS.items()))
def test_ticket_page_renders_in_chromium_with_the_served_fonts(
    live_console, tmp_path: Path, language: str, typed: str
) -> None:
    _chromium_or_skip()
    live_console.sign_in()
    live_console.post_form("/simulator", "/hooks/simulator", text=typed)
    ref = re.search(r'href="/tickets/([^"]+)"', live_console.client.get("/tickets").text)
    assert ref is not None, "no ticket in the queue"
    live_console.post_form("/tickets", "/ui-language", language=language, next="/tickets")
    live_console.share_session_with_browser()

    # The worker's words, the bot's reply, the dates and every label, in one script.
    assert_page_drawn_with_the_served_fonts(
        live_console, f"/tickets/{ref.group(1)}", language, tmp_path
    )
