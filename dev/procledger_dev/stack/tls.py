"""TLS for the local Kafka: a private CA and a broker certificate, made once with keytool."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from procledger_dev.stack.config import StackConfig, StackError
from procledger_dev.stack.procs import require

# Protects only throwaway local key material; the keystores never leave the stack folder.
KEYSTORE_PASSWORD = "procledger-tls"  # noqa: S105 - a documented local-stack default
# Clients connect to 127.0.0.1 and verify the host name against the certificate.
SUBJECT_ALT_NAMES = "SAN=dns:localhost,ip:127.0.0.1"


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """The CA certificate clients trust (PEM) and the broker keystore (PKCS12)."""

    ca_pem: Path
    keystore: Path
    password: str = KEYSTORE_PASSWORD


def tls_files(cfg: StackConfig) -> TlsFiles:
    folder = cfg.root / "kafka" / "tls"
    return TlsFiles(folder / "ca.pem", folder / "broker.p12")


def ensure_tls(cfg: StackConfig) -> TlsFiles:
    """Create the CA and the broker's signed certificate unless they exist already."""
    files = tls_files(cfg)
    if files.ca_pem.exists() and files.keystore.exists():
        return files
    keytool = require("keytool", "openjdk-17-jre-headless")
    folder = files.ca_pem.parent
    folder.mkdir(parents=True, exist_ok=True)
    ca_store, request, signed = folder / "ca.p12", folder / "broker.csr", folder / "broker.pem"
    for stale in (ca_store, request, signed, files.keystore, files.ca_pem):
        stale.unlink(missing_ok=True)  # a half-made set from an interrupted run
    store = ["-storetype", "PKCS12", "-storepass", files.password]
    steps = [
        # The CA: a self-signed key pair allowed to sign (basic constraints CA=true).
        ["-genkeypair", "-alias", "ca", "-keyalg", "RSA", "-keysize", "2048",
         "-dname", "CN=procledger local CA", "-ext", "bc:c", "-validity", "3650",
         "-keystore", str(ca_store), *store],
        ["-exportcert", "-rfc", "-alias", "ca", "-keystore", str(ca_store), *store,
         "-file", str(files.ca_pem)],
        # The broker: its own key pair, then a certificate for it signed by the CA.
        ["-genkeypair", "-alias", "broker", "-keyalg", "RSA", "-keysize", "2048",
         "-dname", "CN=localhost", "-ext", SUBJECT_ALT_NAMES, "-validity", "3650",
         "-keystore", str(files.keystore), *store],
        ["-certreq", "-alias", "broker", "-keystore", str(files.keystore), *store,
         "-file", str(request)],
        ["-gencert", "-alias", "ca", "-keystore", str(ca_store), *store, "-rfc",
         "-ext", SUBJECT_ALT_NAMES, "-validity", "3650", "-infile", str(request),
         "-outfile", str(signed)],
        # The chain in the broker's keystore: the CA first, then the signed reply.
        ["-importcert", "-noprompt", "-alias", "ca", "-file", str(files.ca_pem),
         "-keystore", str(files.keystore), *store],
        ["-importcert", "-noprompt", "-alias", "broker", "-file", str(signed),
         "-keystore", str(files.keystore), *store],
    ]  # fmt: skip
    for step in steps:
        result = subprocess.run([keytool, *step], capture_output=True, text=True, check=False)
        if result.returncode != 0:
            files.keystore.unlink(missing_ok=True)  # never leave a set that looks complete
            raise StackError(f"keytool {step[0]} failed:\n{result.stdout}{result.stderr}")
    return files
