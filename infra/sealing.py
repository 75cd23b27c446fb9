"""Personal data sealed before it reaches Temporal: every payload (inputs, signals, updates, queries, results, memos,
activity arguments, local activity markers, and failure messages with their stack traces) is encrypted with
AES-256-GCM by the client and worker, so the Temporal cluster's database and anyone reading histories without the
codec server see ciphertext. Search attributes and the Web UI's current details are not payloads: they carry codes
and amounts only (workflows/summary.py).

Keys come from a key ring: named AES-256 keys, one of them active. Each sealed payload names its key in its metadata,
so a new active key seals from now on while the old ones still open what they sealed (rotation without downtime),
and a payload sealed with a key the ring lacks fails with the key's name. Plain payloads (histories recorded before
sealing) pass through unopened, so they still replay.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes, PayloadCodec

SEALED = b"binary/encrypted"  # the encoding Temporal's samples and UI know sealed payloads by
KEY_ID = "encryption-key-id"
NONCE_BYTES = 12  # GCM's standard nonce, random per payload
KEY_BYTES = 32  # AES-256
KEY_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,63}$")


class KeyRingError(ValueError):
    """A key ring that cannot be read, or a payload it cannot open."""


@dataclass(frozen=True)
class KeyRing:
    active: str  # the key that seals from now on
    keys: Mapping[str, bytes]  # every key that still opens what it sealed, by id

    def __post_init__(self) -> None:
        for key_id, key in self.keys.items():
            if not KEY_ID_PATTERN.match(key_id):
                raise KeyRingError(f"key id {key_id!r} must be letters, digits, '.', '_' or '-' (at most 64)")
            if len(key) != KEY_BYTES:
                raise KeyRingError(f"key {key_id!r} has {len(key)} bytes; AES-256 needs {KEY_BYTES}")
        if self.active not in self.keys:
            raise KeyRingError(f"the active key {self.active!r} is not among the ring's keys ({self._ids()})")

    def _ids(self) -> str:
        return ", ".join(self.keys) or "none"

    @classmethod
    def from_json(cls, text: str, source: str) -> KeyRing:
        """`{"active": "k2", "keys": {"k2": "<base64>", "k1": "<base64>"}}`, as `collections keys` writes it."""
        try:
            data = json.loads(text)
            active, keys = data["active"], data["keys"]
            if not isinstance(active, str) or not isinstance(keys, dict):
                raise TypeError
        except (json.JSONDecodeError, KeyError, TypeError):
            raise KeyRingError(
                f'{source}: a key ring is JSON with "active" (a key id) and "keys" (key id to base64 key)'
            ) from None
        return cls(active, {key_id: _key(value, f"{source}: key {key_id!r}") for key_id, value in keys.items()})

    @classmethod
    def from_variable(cls, text: str, name: str = "PAYLOAD_KEYS") -> KeyRing:
        """`k2=<base64>,k1=<base64>`: the first key is the active one."""
        pairs = [part.strip().partition("=") for part in text.split(",") if part.strip()]
        if not pairs or any(not key_id or not sep for key_id, sep, _ in pairs):
            raise KeyRingError(f"{name} must list id=<base64 key> pairs separated by commas, the active key first")
        return cls(pairs[0][0], {key_id: _key(value, f"{name}: key {key_id!r}") for key_id, _, value in pairs})

    def to_json(self) -> str:
        keys = {key_id: base64.b64encode(key).decode() for key_id, key in self.keys.items()}
        return json.dumps({"active": self.active, "keys": keys}, indent=2) + "\n"

    def to_variable(self) -> str:
        """The PAYLOAD_KEYS form, the active key first."""
        ids = [self.active, *(key_id for key_id in self.keys if key_id != self.active)]
        return ",".join(f"{key_id}={base64.b64encode(self.keys[key_id]).decode()}" for key_id in ids)

    def rotated(self, key_id: str) -> KeyRing:
        """A new key under `key_id` seals from now on; the others stay to open what they sealed."""
        if key_id in self.keys:
            raise KeyRingError(f"the key ring already holds a key {key_id!r}: give the new key a new id")
        return KeyRing(key_id, {key_id: AESGCM.generate_key(bit_length=256), **self.keys})

    def without(self, key_id: str) -> KeyRing:
        """The ring without a retired key: only once nothing sealed with it is still needed."""
        if key_id == self.active:
            raise KeyRingError(f"{key_id!r} is the active key: rotate to a new one before removing it")
        if key_id not in self.keys:
            raise KeyRingError(f"the key ring holds no key {key_id!r} (it holds {self._ids()})")
        return KeyRing(self.active, {k: v for k, v in self.keys.items() if k != key_id})


def new_ring(key_id: str) -> KeyRing:
    return KeyRing(key_id, {key_id: AESGCM.generate_key(bit_length=256)})


def _key(text: object, what: str) -> bytes:
    try:
        if not isinstance(text, str):
            raise TypeError
        return base64.b64decode(text, validate=True)
    except (binascii.Error, TypeError):
        raise KeyRingError(f"{what} is not base64") from None


def read_ring(variable: str | None, file: Path | None) -> KeyRing:
    """The key ring from PAYLOAD_KEYS or the file PAYLOAD_KEYS_FILE names; nothing runs without one."""
    if variable:
        return KeyRing.from_variable(variable)
    if file is None:
        raise KeyRingError(
            "no payload key ring: set PAYLOAD_KEYS_FILE to a key ring file (`collections keys new FILE` makes one)"
            ' or PAYLOAD_KEYS to id=<base64 key> pairs; see the README\'s "Personal data"'
        )
    try:
        return KeyRing.from_json(file.read_text(encoding="utf-8"), str(file))
    except OSError as err:
        raise KeyRingError(f"PAYLOAD_KEYS_FILE {file}: {err.strerror}") from None


def write_ring(ring: KeyRing, file: Path) -> None:
    """Written whole, readable by its owner only, replacing the old file in one step."""
    file.parent.mkdir(parents=True, exist_ok=True)
    partial = file.with_name(file.name + ".partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        out.write(ring.to_json())
    partial.replace(file)


class SealingCodec(PayloadCodec):
    def __init__(self, ring: KeyRing) -> None:
        self._ring = ring
        self._ciphers = {key_id: AESGCM(key) for key_id, key in ring.keys.items()}

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        active, cipher = self._ring.active, self._ciphers[self._ring.active]
        sealed = []
        for payload in payloads:
            nonce = os.urandom(NONCE_BYTES)
            data = nonce + cipher.encrypt(nonce, payload.SerializeToString(), None)
            sealed.append(Payload(metadata={"encoding": SEALED, KEY_ID: active.encode()}, data=data))
        return sealed

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self._open(payload) if payload.metadata.get("encoding") == SEALED else payload for payload in payloads]

    def _open(self, payload: Payload) -> Payload:
        key_id = payload.metadata.get(KEY_ID, b"").decode(errors="replace")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise KeyRingError(
                f"a payload is sealed with key {key_id!r}, which this key ring does not hold"
                f" (it holds {self._ring._ids()}): add the key to PAYLOAD_KEYS or PAYLOAD_KEYS_FILE"
            )
        try:
            plain = cipher.decrypt(payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:], None)
        except InvalidTag:
            raise KeyRingError(
                f"a payload sealed with key {key_id!r} does not open with this ring's {key_id!r}: the key under"
                " that id was replaced, or the payload was altered"
            ) from None
        return Payload.FromString(plain)


def sealed_data_converter(ring: KeyRing) -> DataConverter:
    """Pydantic payloads, sealed; failure messages and stack traces moved into a payload so they are sealed too."""
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=SealingCodec(ring),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )
