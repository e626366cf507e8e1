"""Evidence bundles pinned to both clocks, with chain heads and export time, signed (Ed25519)."""

from __future__ import annotations

import json
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from procledger_dev.stack.config import StackConfig

from .audit_support import Story, audit, story_ledger

MID_JUNE = "2023-06-15T23:59:59Z"


@pytest.fixture
def story(stack: StackConfig) -> Story:
    return story_ledger(stack)


def _keys(tmp_path: Path, name: str) -> tuple[Path, Path]:
    key = Ed25519PrivateKey.generate()
    private, public = tmp_path / f"{name}.pem", tmp_path / f"{name}.pub.pem"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private, public


def _manifest(path: Path) -> dict[str, object]:
    with zipfile.ZipFile(path) as zf:
        loaded: dict[str, object] = json.loads(zf.read("manifest.json"))
        return loaded


def test_export_is_pinned_to_both_clocks_and_records_them(story: Story, tmp_path: Path) -> None:
    between = story.between.isoformat()
    out = tmp_path / "pinned.zip"
    run = audit(
        story.ledger, "export", "--out", str(out), "--as-of", MID_JUNE, "--known-at", between
    )
    assert run.code == 0, run.err
    manifest = _manifest(out)
    assert manifest["clocks"] == {
        "as_of": "2023-06-15T23:59:59.000000Z",
        "known_at": story.between.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    }
    assert str(manifest["exported_at"]).endswith("Z") and manifest["signature"] is None
    assert manifest["chain_heads"]  # the ledger's heads when the bundle was made
    with zipfile.ZipFile(out) as zf:
        rows = [json.loads(line) for line in zf.read("journal.jsonl").splitlines()]
    assert rows and all(r["occurred_at"] <= "2023-06-15T23:59:59.000000Z" for r in rows)
    known_at = story.between.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert all(r["recorded_at"] <= known_at for r in rows)
    whole = tmp_path / "whole.zip"
    assert audit(story.ledger, "export", "--out", str(whole)).code == 0
    with zipfile.ZipFile(whole) as zf:
        assert len(zf.read("journal.jsonl").splitlines()) == 417 > len(rows)
    # The same moment on the query side: every order in the pinned bundle is one the
    # pinned totals count.
    orders = {r["order_id"] for r in rows if r["order_id"]}
    pinned = audit(story.ledger, "totals", "--as-of", MID_JUNE, "--known-at", between).json()
    assert pinned[0]["orders"] == len(orders)
    assert audit(story.ledger, "check-bundle", str(out)).code == 0


def test_signed_bundles_verify_only_with_the_right_key(story: Story, tmp_path: Path) -> None:
    private, public = _keys(tmp_path, "audit")
    _, other = _keys(tmp_path, "other")
    signing = replace(
        story.ledger, env={**story.ledger.env, "AUDIT_SIGNING_KEY_FILE": str(private)}
    )
    out = tmp_path / "signed.zip"
    made = audit(signing, "export", "--out", str(out), "--buyer", "DEU")
    assert made.code == 0 and "signed by key sha256" in made.err, made.err
    assert _manifest(out)["signature"]["algorithm"] == "Ed25519"  # type: ignore[index]

    good = audit(
        story.ledger, "check-bundle", str(out), "--public-key", str(public), "--format", "json"
    )
    assert good.code == 0 and good.json()["signature"].startswith("valid"), good.out
    wrong = audit(
        story.ledger, "check-bundle", str(out), "--public-key", str(other), "--format", "json"
    )
    assert wrong.code == 1 and wrong.json()["signature"] == "invalid"
    unchecked = audit(story.ledger, "check-bundle", str(out), "--format", "json")
    assert unchecked.code == 0 and "not checked" in unchecked.json()["signature"]
    by_env = replace(story.ledger, env={**story.ledger.env, "AUDIT_VERIFY_KEY_FILE": str(public)})
    assert audit(by_env, "check-bundle", str(out)).code == 0

    # A manifest edited after signing (its files still match) fails with the key.
    with zipfile.ZipFile(out) as zf:
        files = {n: zf.read(n) for n in zf.namelist()}
    files["manifest.json"] = files["manifest.json"].replace(b'"buyer": "DEU"', b'"buyer": "FRA"')
    edited = tmp_path / "edited.zip"
    with zipfile.ZipFile(edited, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    bad = audit(
        story.ledger, "check-bundle", str(edited), "--public-key", str(public), "--format", "json"
    )
    assert bad.code == 1 and bad.json()["signature"] == "invalid"

    # An unsigned bundle fails when a key is expected; a bad key file is a usage error.
    unsigned = tmp_path / "unsigned.zip"
    assert audit(story.ledger, "export", "--out", str(unsigned), "--buyer", "DEU").code == 0
    assert audit(story.ledger, "check-bundle", str(unsigned), "--public-key", str(public)).code == 1
    missing = audit(
        story.ledger, "check-bundle", str(out), "--public-key", str(tmp_path / "no.pem")
    )
    assert missing.code == 2 and "--public-key" in missing.err
    broken = replace(story.ledger, env={**story.ledger.env, "AUDIT_SIGNING_KEY_FILE": str(public)})
    refused = audit(broken, "export", "--out", str(tmp_path / "x.zip"))
    assert refused.code == 2 and "AUDIT_SIGNING_KEY_FILE" in refused.err
