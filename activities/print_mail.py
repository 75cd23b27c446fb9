"""The print-and-mail vendor's daily batch: every queued letter rendered to PDF, stored with its checksum, and
dropped with a manifest into the folder the vendor collects from.

A batch appears in the drop folder whole or not at all: files are written to `<batch>.partial/` and the folder is
renamed when complete. The letters are claimed for the batch in the database first, so a retry after a crash
finishes the same batch instead of starting another.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import shutil
from pathlib import Path

import asyncpg
from temporalio import activity

from dunning.account import Payload
from dunning.letters import LetterFacts
from infra.letters import LetterRenderer, RenderedLetter
from infra.logging import activity_logger

MANIFEST = "manifest.csv"
MANIFEST_COLUMNS = (
    "letter_ref",
    "file",
    "sha256",
    "pages",
    "delivery",
    "letter_kind",
    "locale",
    "recipient",
    "address",
    "account_id",
)


class LetterBatchRequest(Payload):
    batch_id: str


class LetterBatch(Payload):
    batch_id: str
    letters: int
    folder: str = ""  # empty when nothing was queued
    manifest_sha256: str = ""
    withdrawn: int = 0  # letters not printed: their accounts stopped being collected after the letter was queued


class PrintMailActivities:
    def __init__(self, pool: asyncpg.Pool, letters: LetterRenderer, drop_dir: Path) -> None:
        self._pool = pool
        self._letters = letters
        self._drop_dir = drop_dir

    @activity.defn
    async def produce_letter_batch(self, request: LetterBatchRequest) -> LetterBatch:
        batch_id = request.batch_id
        folder = self._drop_dir / batch_id
        async with self._pool.acquire() as conn, conn.transaction():
            batch = await conn.fetchrow("SELECT * FROM letter_batches WHERE batch_id = $1", batch_id)
            if batch is None:
                # A letter whose account stopped being collected since (paid, disputed, closed) is not printed.
                withdrawn = await conn.execute(
                    "UPDATE letter_jobs j SET status = 'withdrawn' FROM accounts a WHERE a.account_id = j.account_id"
                    " AND j.status = 'queued' AND a.status <> 'open'"
                )
                claimed = await conn.execute(
                    "UPDATE letter_jobs SET status = 'batched', batch_id = $1 WHERE status = 'queued'", batch_id
                )
                count = int(claimed.split()[-1])
                if count == 0:
                    return LetterBatch(batch_id=batch_id, letters=0, withdrawn=int(withdrawn.split()[-1]))
                await conn.execute(
                    "INSERT INTO letter_batches (batch_id, status, letters, folder, withdrawn)"
                    " VALUES ($1, 'writing', $2, $3, $4)",
                    batch_id,
                    count,
                    str(folder),
                    int(withdrawn.split()[-1]),
                )
            elif batch["status"] == "dropped":
                return LetterBatch(
                    batch_id=batch_id,
                    letters=batch["letters"],
                    folder=batch["folder"],
                    manifest_sha256=batch["manifest_sha256"],
                    withdrawn=batch["withdrawn"],
                )
        jobs = await self._pool.fetch(
            "SELECT j.action_key, j.facts, d.pdf, d.sha256, d.pages FROM letter_jobs j"
            " LEFT JOIN letter_documents d USING (action_key) WHERE j.batch_id = $1 ORDER BY j.letter_ref",
            batch_id,
        )
        documents = [(LetterFacts.model_validate_json(job["facts"]), await self._document(job)) for job in jobs]
        manifest = await asyncio.to_thread(_write_folder, folder, documents)
        async with self._pool.acquire() as conn:
            await conn.execute(
                "UPDATE letter_batches SET status = 'dropped', manifest_sha256 = $2, dropped_at = now()"
                " WHERE batch_id = $1",
                batch_id,
                manifest,
            )
        activity_logger().info("letter batch dropped", batch_id=batch_id, letters=len(documents))
        withdrawn = await self._pool.fetchval("SELECT withdrawn FROM letter_batches WHERE batch_id = $1", batch_id)
        return LetterBatch(
            batch_id=batch_id, letters=len(documents), folder=str(folder), manifest_sha256=manifest, withdrawn=withdrawn
        )

    async def _document(self, job: asyncpg.Record) -> RenderedLetter:
        """The letter's stored PDF, rendered and stored first if this is its first batch attempt."""
        if job["pdf"] is not None:
            return RenderedLetter(pdf=job["pdf"], sha256=job["sha256"], pages=job["pages"])
        facts = LetterFacts.model_validate_json(job["facts"])
        rendered = await self._letters.render_apart(facts)
        await self._pool.execute(
            "INSERT INTO letter_documents (action_key, letter_ref, pdf, sha256, pages) VALUES ($1, $2, $3, $4, $5)"
            " ON CONFLICT (action_key) DO NOTHING",
            job["action_key"],
            facts.letter_ref,
            rendered.pdf,
            rendered.sha256,
            rendered.pages,
        )
        return rendered


def _write_folder(folder: Path, documents: list[tuple[LetterFacts, RenderedLetter]]) -> str:
    """Writes the batch's PDFs and manifest, then publishes the folder by renaming it; returns the manifest's
    checksum. Idempotent: a folder already published is read, not rewritten."""
    if folder.is_dir():
        return hashlib.sha256((folder / MANIFEST).read_bytes()).hexdigest()
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)  # what a crashed attempt left
    partial.mkdir(parents=True)
    rows = io.StringIO(newline="")
    writer = csv.writer(rows)
    writer.writerow(MANIFEST_COLUMNS)
    for facts, letter in documents:
        name = f"{facts.letter_ref}.pdf"
        (partial / name).write_bytes(letter.pdf)
        writer.writerow(
            (
                facts.letter_ref,
                name,
                letter.sha256,
                letter.pages,
                facts.delivery,
                facts.letter_kind,
                facts.locale,
                facts.debtor_name,
                facts.address,
                facts.account_id,
            )
        )
    manifest = rows.getvalue().encode("utf-8")
    (partial / MANIFEST).write_bytes(manifest)
    partial.rename(folder)
    return hashlib.sha256(manifest).hexdigest()
