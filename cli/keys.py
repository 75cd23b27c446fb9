"""`keys`: the key ring that seals payloads in Temporal (infra/sealing.py). Files only: the worker, the CLI and the
codec server read the ring at start, so restart them after a rotation (old keys stay: nothing in flight breaks)."""

from __future__ import annotations

from pathlib import Path

import click

from client import InputError
from infra.sealing import KeyRing, KeyRingError, new_ring, read_ring, write_ring

RING_FILE = click.argument("ring_file", type=click.Path(dir_okay=False, path_type=Path))
KEY_ID = click.option("--id", "key_id", required=True, help="the key's name, e.g. 2026-11 (letters, digits, . _ -)")


@click.group()
def keys() -> None:
    """The payload key ring: make one, rotate to a new key, retire an old one."""


@keys.command()
@RING_FILE
@KEY_ID
def new(ring_file: Path, key_id: str) -> None:
    """Writes a new key ring with one key (readable by its owner only); refuses to overwrite one."""
    if ring_file.exists():
        raise InputError(f"{ring_file} exists: rotate it (`collections keys rotate`) rather than replace it")
    _write(ring_file, lambda: new_ring(key_id))


@keys.command()
@RING_FILE
@KEY_ID
def rotate(ring_file: Path, key_id: str) -> None:
    """Adds a new key that seals from now on; the old keys stay to open what they sealed."""
    _write(ring_file, lambda: _read(ring_file).rotated(key_id))


@keys.command()
@RING_FILE
@KEY_ID
def retire(ring_file: Path, key_id: str) -> None:
    """Removes an old key: only once no history sealed with it is still kept (after the namespace's retention)."""
    _write(ring_file, lambda: _read(ring_file).without(key_id))


@keys.command()
@RING_FILE
def show(ring_file: Path) -> None:
    """The ring's key ids, the active one marked; never the keys."""
    ring = _read(ring_file)
    for key_id in ring.keys:
        click.echo(f"{key_id}{'  (active: seals new payloads)' if key_id == ring.active else ''}")


def _read(ring_file: Path) -> KeyRing:
    try:
        return read_ring(None, ring_file)
    except KeyRingError as err:
        raise InputError(str(err)) from None


def _write(ring_file: Path, make) -> None:  # type: ignore[no-untyped-def]
    try:
        ring = make()
    except KeyRingError as err:
        raise InputError(str(err)) from None
    write_ring(ring, ring_file)
    click.echo(f"{ring_file}: keys {', '.join(ring.keys)}; {ring.active} seals new payloads")
