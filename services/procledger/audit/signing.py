"""Ed25519 signatures of evidence-bundle manifests (pyca/cryptography), made and checked."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from procledger.settings import SettingsError

ALGORITHM = "Ed25519"
SIGNATURE_FILE = "manifest.sig.json"


def key_id(public: Ed25519PublicKey) -> str:
    """SHA-256 of the raw 32-byte public key: names the key without trusting the bundle."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


@dataclass(frozen=True, slots=True)
class Signer:
    """The exporter's private key (AUDIT_SIGNING_KEY_FILE)."""

    key: Ed25519PrivateKey

    @property
    def key_sha256(self) -> str:
        return key_id(self.key.public_key())

    def sign(self, manifest: bytes) -> bytes:
        """The signature file's bytes for these exact manifest bytes."""
        doc = {
            "algorithm": ALGORITHM,
            "key_sha256": self.key_sha256,
            "signature": base64.b64encode(self.key.sign(manifest)).decode(),
        }
        return (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode()


def load_signer(path: str | None, name: str = "AUDIT_SIGNING_KEY_FILE") -> Signer | None:
    """The private key in a PEM file (PKCS#8, unencrypted), or None when none is configured."""
    if not path:
        return None
    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as err:
        reason = f"cannot read an Ed25519 private key from {path}: {err}"
        raise SettingsError(f"{name}: {reason}") from err
    if not isinstance(key, Ed25519PrivateKey):
        raise SettingsError(f"{name}: {path} holds a {type(key).__name__}, not an Ed25519 key")
    return Signer(key)


def load_public_key(path: str, name: str = "--public-key") -> Ed25519PublicKey:
    """A PEM public key (SubjectPublicKeyInfo), as `openssl pkey -pubout` writes it."""
    try:
        key = serialization.load_pem_public_key(Path(path).read_bytes())
    except (OSError, ValueError, TypeError) as err:
        reason = f"cannot read an Ed25519 public key from {path}: {err}"
        raise SettingsError(f"{name}: {reason}") from err
    if not isinstance(key, Ed25519PublicKey):
        raise SettingsError(f"{name}: {path} holds a {type(key).__name__}, not an Ed25519 key")
    return key


def check_signature(
    contents: dict[str, bytes], public: Ed25519PublicKey | None
) -> tuple[str, list[str]]:
    """(status, problems) of a bundle's signature; a given key makes an unsigned bundle fail."""
    manifest = contents.get("manifest.json", b"")
    raw = contents.get(SIGNATURE_FILE)
    if raw is None:
        if public is not None:
            return "unsigned", ["the bundle is not signed, but a public key was given"]
        return "unsigned", []
    try:
        doc: dict[str, Any] = json.loads(raw)
        signature = base64.b64decode(doc["signature"], validate=True)
        named = str(doc.get("key_sha256"))
        if doc.get("algorithm") != ALGORITHM:
            raise ValueError(f"algorithm {doc.get('algorithm')!r} is not {ALGORITHM}")
    except (ValueError, KeyError, TypeError) as err:
        return "malformed", [f"{SIGNATURE_FILE} is not a valid signature: {err}"]
    if public is None:
        return f"signed by key sha256 {named}, not checked (no public key given)", []
    try:
        public.verify(signature, manifest)
    except InvalidSignature:
        return "invalid", [f"manifest.json's signature does not verify with key {key_id(public)}"]
    return f"valid (key sha256 {key_id(public)})", []
