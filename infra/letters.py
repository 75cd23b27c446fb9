"""Letters as documents: Jinja2 templates (templates/letters/) filled with a letter's facts and the creditor's
letterhead, laid out as PDF with a font that covers Chinese and Latin text.

Rendering is deterministic: the same facts give the same bytes, so a letter's checksum proves what was printed.
"""

from __future__ import annotations

import asyncio
import hashlib
import multiprocessing
import os
import signal
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path

import jinja2
import pylopdf_fonts_zh_cn
import yaml
from fontTools.ttLib import TTFont
from fpdf import FPDF
from fpdf.enums import TextEmphasis, WrapMode
from fpdf.fonts import FontFace
from fpdf.html import HTML2FPDF
from pydantic import RootModel, ValidationError

from dunning.datafile import Strict
from dunning.letters import LetterFacts
from dunning.money import format_amount

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates" / "letters"
# Noto Sans SC (SIL Open Font License) covers Simplified Chinese, Latin and the currency signs; embedded as a subset.
FONT_FILE = Path(pylopdf_fonts_zh_cn.__file__).parent / "NotoSansSC-Regular.otf"
# The same font cut down to what nearly every letter uses (fonts/make_common_subset.py): three times faster to lay
# out; a letter with any other character (a rare name) uses the full font.
COMMON_FONT_FILE = Path(__file__).resolve().parent.parent / "fonts" / "NotoSansSC-Common.otf"
FONT = "NotoSansSC"
BLACK = (0, 0, 0)
LINE_HEIGHT = 1.35
# Chinese runs without spaces between words, so its lines may break after any character.
WRAP = {"zh": WrapMode.CHAR}


class LetterError(ValueError):
    """A letter that cannot be made (no template, no letterhead, a template error): retrying will not help."""


class Localized(RootModel[dict[str, str]]):
    def text(self, locale: str) -> str:
        return self.root.get(locale) or self.root["en"]


class Letterhead(Strict):
    name: Localized
    department: Localized
    address: Localized
    phone: str
    email: str
    hours: Localized
    payment: Localized

    def for_locale(self, locale: str) -> dict[str, str]:
        return {
            "name": self.name.text(locale),
            "department": self.department.text(locale),
            "address": self.address.text(locale),
            "phone": self.phone,
            "email": self.email,
            "hours": self.hours.text(locale),
            "payment": self.payment.text(locale),
        }


def load_letterheads(path: Path) -> dict[str, Letterhead]:
    try:
        return RootModel[dict[str, Letterhead]].model_validate(yaml.safe_load(path.read_text(encoding="utf-8"))).root
    except (OSError, yaml.YAMLError, ValidationError) as err:
        raise LetterError(f"{path}: {err}") from None


@dataclass(frozen=True)
class RenderedLetter:
    pdf: bytes
    sha256: str
    pages: int


class _Html(HTML2FPDF):
    def handle_starttag(self, tag, attrs) -> None:
        super().handle_starttag(tag, attrs)
        if tag == "table":  # headings in the one face too (fpdf2 asks for a bold face by default)
            self.table._headings_style = FontFace(emphasis=None)

    def _new_paragraph(self, *args, line_height: float | None = None, **kwargs) -> None:
        # fpdf2 sets lines at 1.0 of the font size, too tight to read in print.
        super()._new_paragraph(*args, line_height=max(line_height or 0, LINE_HEIGHT), **kwargs)


class _Document(FPDF):
    """A4 PDF whose HTML paragraphs wrap and space lines as the letter's language needs."""

    HTML2FPDF_CLASS = _Html

    def __init__(self, locale: str) -> None:
        super().__init__(format="A4")
        self._wrapmode = WRAP.get(locale, WrapMode.WORD)

    def text_columns(self, *args, **kwargs):
        kwargs.setdefault("wrapmode", self._wrapmode)
        return super().text_columns(*args, **kwargs)

    def add_font(self, *args, **kwargs) -> None:
        super().add_font(*args, **kwargs)
        # The embedded subset keeps the whole font's bounding boxes (still true of every glyph it holds): computing
        # them again from each glyph's outline was half of a letter's CPU.
        for font in self.fonts.values():
            font.ttfont.recalcBBoxes = False

    def set_font(self, family=None, style="", size=0) -> None:
        # One weight: emphasis is by size and layout, so bold and italic print in the regular face, embedded once.
        super().set_font(family, TextEmphasis.coerce(style).remove(TextEmphasis.B | TextEmphasis.I), size)


def _characters_of(font_file: Path) -> frozenset[int]:
    font = TTFont(font_file, lazy=True)
    try:
        return frozenset(font.getBestCmap()) | {ord("\n"), ord("\r"), ord("\t")}
    finally:
        font.close()


def _long_date(day: date, locale: str) -> str:
    return f"{day.year}年{day.month}月{day.day}日" if locale == "zh" else f"{day.day} {day:%B %Y}"


class LetterRenderer:
    def __init__(
        self,
        letterheads: dict[str, Letterhead],
        letterheads_file: Path,
        template_dir: Path = TEMPLATE_DIR,
        press_processes: int | None = None,
    ) -> None:
        self._letterheads = letterheads
        self._letterheads_file = letterheads_file
        self._press_processes = press_processes
        self._common = _characters_of(COMMON_FONT_FILE)
        self._jinja = jinja2.Environment(
            loader=jinja2.FileSystemLoader(template_dir),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )

    @classmethod
    def load(cls, letterheads_file: Path, press_processes: int | None = None) -> LetterRenderer:
        """`press_processes`: how many processes render PDFs apart from the worker (None: one per core but one; 0: a
        thread of the worker's own process, for a one-core machine, where it holds workflow tasks while it renders)."""
        return cls(load_letterheads(letterheads_file), letterheads_file, press_processes=press_processes)

    def templates(self) -> set[str]:
        """The letter templates on file, as `<template>.<locale>`."""
        return {
            name.removesuffix(".html")
            for name in self._jinja.list_templates(extensions=["html"])
            if not name.startswith("base.")
        }

    def html(self, facts: LetterFacts) -> str:
        letterhead = self._letterheads.get(facts.creditor)
        if letterhead is None:
            raise LetterError(f"no letterhead for creditor {facts.creditor!r} in {self._letterheads_file}")
        name = f"{facts.template}.{facts.locale}.html"
        locale = facts.locale

        def money(minor: int) -> str:
            return format_amount(minor, facts.currency)

        try:
            return self._jinja.get_template(name).render(
                letter=facts,
                creditor=letterhead.for_locale(locale),
                money=money,
                long_date=lambda day: _long_date(day, locale),
            )
        except jinja2.TemplateNotFound:
            raise LetterError(f"no letter template {name} in {TEMPLATE_DIR}") from None
        except jinja2.TemplateError as err:
            raise LetterError(f"letter template {name}: {err}") from None

    async def render_apart(self, facts: LetterFacts) -> RenderedLetter:
        """`render`, in a process of the letter press: a PDF takes about half a second of CPU, which in the worker's
        own process would hold its event loop, and so its workflow tasks, behind the GIL."""
        if self._press_processes == 0:
            return await asyncio.to_thread(self.render, facts)
        try:
            return await asyncio.get_running_loop().run_in_executor(
                _LetterPress.executor(self._press_processes), _render_in_press, self._letterheads_file, facts
            )
        except BrokenProcessPool:
            _LetterPress.discard()  # a press process died (killed, out of memory): the retry starts a new press
            raise

    def render(self, facts: LetterFacts) -> RenderedLetter:
        html = self.html(facts)
        font_file = COMMON_FONT_FILE if set(map(ord, html)) <= self._common else FONT_FILE
        pdf = _Document(facts.locale)
        pdf.set_margins(22, 20, 22)
        pdf.set_auto_page_break(True, margin=22)
        pdf.add_font(FONT, fname=font_file)
        pdf.set_font(FONT, size=10.5)
        pdf.set_title(facts.letter_ref)
        pdf.set_creator("collections-orchestrator")
        # Fixed metadata dates keep the bytes, and so the checksum, the same each time the letter is rendered.
        pdf.set_creation_date(datetime.combine(facts.letter_date, time(), tzinfo=UTC))
        pdf.add_page()
        pdf.write_html(
            html,
            font_family=FONT,
            table_line_separators=True,
            tag_styles={
                tag: FontFace(color=BLACK, family=FONT, emphasis=None, size_pt=size)
                for tag, size in (("h1", 16), ("h2", 14), ("h3", 12))
            },
        )
        document = bytes(pdf.output())
        return RenderedLetter(pdf=document, sha256=hashlib.sha256(document).hexdigest(), pages=pdf.pages_count)


async def letter_on_file(pool, letter_ref: str):
    """The letter job quoted by `letter_ref` (account, address, status), or None."""
    return await pool.fetchrow(
        "SELECT action_key, account_id, address, status, delivery_status, facts FROM letter_jobs WHERE letter_ref = $1",
        letter_ref,
    )


class _LetterPress:
    """The worker process's letter press: processes of its own, started on the first letter, one core left to the
    worker."""

    _executor: ProcessPoolExecutor | None = None

    @classmethod
    def executor(cls, processes: int | None) -> ProcessPoolExecutor:
        if cls._executor is None:
            # Spawned, not forked: the worker runs threads (Temporal's core) that a fork would copy mid-step.
            cls._executor = ProcessPoolExecutor(
                processes or max(1, (os.cpu_count() or 1) - 1),
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_leave_ctrl_c_to_the_worker,
            )
        return cls._executor

    @classmethod
    def discard(cls) -> None:
        if cls._executor is not None:
            cls._executor.shutdown(wait=False, cancel_futures=True)
            cls._executor = None


def _leave_ctrl_c_to_the_worker() -> None:
    """Ctrl-C reaches the whole process group: the worker shuts the press down, a press process need not die of it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


_press_renderers: dict[Path, LetterRenderer] = {}  # in a press process: one renderer per letterheads file


def _render_in_press(letterheads_file: Path, facts: LetterFacts) -> RenderedLetter:
    if letterheads_file not in _press_renderers:
        _press_renderers[letterheads_file] = LetterRenderer.load(letterheads_file)
    return _press_renderers[letterheads_file].render(facts)


async def letter_document(pool, renderer: LetterRenderer, letter_ref: str) -> RenderedLetter | None:
    """The letter as printed (its stored PDF) or, not yet batched, as it will be; None if no such letter."""
    job = await letter_on_file(pool, letter_ref)
    if job is None or job["facts"] is None:
        return None
    stored = await pool.fetchrow("SELECT pdf, sha256, pages FROM letter_documents WHERE letter_ref = $1", letter_ref)
    if stored is not None:
        return RenderedLetter(pdf=stored["pdf"], sha256=stored["sha256"], pages=stored["pages"])
    return renderer.render(LetterFacts.model_validate_json(job["facts"]))
