"""Renders the sample letters in this folder (PNG of page 1, and the PDF), from made-up facts:

.venv/bin/python docs/letters/render_samples.py
"""

from __future__ import annotations

import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import pypdfium2 as pdfium

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

from dunning.letters import LetterFacts  # noqa: E402
from infra.config import LETTERHEADS  # noqa: E402
from infra.letters import LetterRenderer  # noqa: E402

SAMPLES = {
    "collection_letter_first.en": dict(
        locale="en",
        debtor_name="Aisha Khan",
        address="45 Demo Street, London",
        currency="GBP",
        creditor="Demo Consumer Finance",
    ),
    "collection_letter_first.zh": dict(
        locale="zh",
        debtor_name="王芳",
        address="上海市徐汇区测试路1号 200030",
        currency="CNY",
        creditor="Demo Consumer Finance",
    ),
}


def main() -> None:
    renderer = LetterRenderer.load(LETTERHEADS)
    for name, facts in SAMPLES.items():
        template = name.rsplit(".", 1)[0]
        letter = renderer.render(
            LetterFacts(
                letter_ref="L7QK2M4XRD3A",
                template=template,
                letter_kind="first_collection",
                delivery="ordinary",
                letter_date=date(2026, 11, 23),
                account_id="DEMO1000",
                original_minor=250_000,
                paid_minor=50_000,
                late_fee_minor=12_000,
                outstanding_minor=212_000,
                due_date=date(2026, 11, 13),
                dpd=10,
                next_stage_dpd=18,
                late_fee_rate_per_day=Decimal("0.0005"),
                **facts,
            )
        )
        (HERE / f"{name}.pdf").write_bytes(letter.pdf)
        pdfium.PdfDocument(letter.pdf)[0].render(scale=1.5).to_pil().save(HERE / f"{name}.png", optimize=True)
        print(f"{name}: {letter.pages} page(s), sha256 {letter.sha256}")


if __name__ == "__main__":
    main()
