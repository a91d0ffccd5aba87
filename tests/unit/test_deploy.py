"""docs/deploy.md's files, each checked by the tool that reads it, and its PostgreSQL steps run for real.

A tool that is not installed skips its test locally; `.ci/run` installs systemd's
analyzer, caddy and nginx, so CI runs them all.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
INSTALL = "/opt/captainslog"


def _tool(name: str) -> str:
    found = shutil.which(name) or (f"/usr/sbin/{name}" if Path(f"/usr/sbin/{name}").exists() else None)
    if found is None:
        pytest.skip(f"{name} is not installed (.ci/run installs it)")
    return found


def _installed_copy(tmp_path: Path, unit: str) -> Path:
    """The unit as shipped, with /opt/captainslog pointing at a folder whose .venv/bin/captainslog is real."""
    install = tmp_path / "opt-captainslog"
    (install / ".venv" / "bin").mkdir(parents=True)
    program = Path(sys.executable).parent / "captainslog"
    if not program.exists():
        pytest.skip("the captainslog script is not installed in this virtualenv (pip install -e .)")
    (install / ".venv" / "bin" / "captainslog").symlink_to(program)
    copy = tmp_path / unit
    copy.write_text((DEPLOY / unit).read_text().replace(INSTALL, str(install)))
    return copy


@pytest.mark.parametrize(
    "units", [("captainslog.service",), ("captainslog-backup.service", "captainslog-backup.timer")]
)
def test_the_systemd_units_pass_systemd_analyze_verify(units: tuple[str, ...], tmp_path: Path) -> None:
    analyze = _tool("systemd-analyze")
    copies = [_installed_copy(tmp_path, unit) if unit.endswith(".service") else tmp_path / unit for unit in units]
    for unit, copy in zip(units, copies, strict=True):
        if not copy.exists():
            copy.write_text((DEPLOY / unit).read_text())

    done = subprocess.run([analyze, "verify", *map(str, copies)], capture_output=True, text=True, timeout=60)

    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stderr.strip() == "", done.stderr


def test_the_service_stops_gently_and_does_not_restart_on_a_setting_to_fix() -> None:
    unit = (DEPLOY / "captainslog.service").read_text()
    assert f"ExecStart={INSTALL}/.venv/bin/captainslog run" in unit
    assert "KillSignal=SIGTERM" in unit and "TimeoutStopSec=45" in unit
    assert "Restart=on-failure" in unit and "RestartPreventExitStatus=2" in unit


def test_the_caddyfile_is_valid(tmp_path: Path) -> None:
    caddy = _tool("caddy")
    env = {**os.environ, "HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path)}

    done = subprocess.run(
        [caddy, "validate", "--config", str(DEPLOY / "Caddyfile"), "--adapter", "caddyfile"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert "Valid configuration" in done.stdout + done.stderr


def _self_signed(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "assistant.example.org")])
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "fullchain.pem", folder / "privkey.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def test_the_nginx_site_passes_nginx_t(tmp_path: Path) -> None:
    nginx = _tool("nginx")
    cert, key = _self_signed(tmp_path)
    site = (DEPLOY / "nginx.conf").read_text()
    site = site.replace("/etc/letsencrypt/live/assistant.example.org/fullchain.pem", str(cert))
    site = site.replace("/etc/letsencrypt/live/assistant.example.org/privkey.pem", str(key))
    (tmp_path / "site.conf").write_text(site)
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log stderr;\nevents {{}}\n"
        f"http {{\n  access_log off;\n  client_body_temp_path {tmp_path};\n  proxy_temp_path {tmp_path};\n"
        f"  fastcgi_temp_path {tmp_path};\n  uwsgi_temp_path {tmp_path};\n  scgi_temp_path {tmp_path};\n"
        f"  include {tmp_path}/site.conf;\n}}\n"
    )

    done = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert "test is successful" in done.stderr


@pytest.mark.postgres
def test_the_postgresql_steps_of_the_guide_work(postgres_url: str, tmp_path: Path) -> None:
    """The guide's CREATE ROLE / CREATE DATABASE, then `captainslog migrate` and `doctor` as that role."""
    psql = _tool("psql")
    admin = make_url(postgres_url)
    role = f"captainslog_{uuid.uuid4().hex[:8]}"
    password = "choose-a-password"
    connect = ["-h", admin.host or "127.0.0.1", "-p", str(admin.port or 5432), "-U", admin.username or "postgres"]

    def as_admin(sql: str) -> None:
        done = subprocess.run([psql, *connect, "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-c", sql],
                              capture_output=True, text=True, timeout=60)  # fmt: skip
        assert done.returncode == 0, done.stderr

    as_admin(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
    try:
        as_admin(f"CREATE DATABASE {role} OWNER {role}")
        url = f"postgresql://{role}:{password}@{admin.host}:{admin.port or 5432}/{role}"
        env = {name: os.environ[name] for name in ("PATH", "HOME", "LANG") if name in os.environ}
        env.update(PYTHONPATH=str(ROOT), DATABASE_URL=url, OPENAI_API_KEY="sk-test", DATA_DIR=str(tmp_path / "data"))
        migrated = subprocess.run([sys.executable, "-m", "bot", "migrate"], capture_output=True, text=True,
                                  cwd=tmp_path, env=env, timeout=120)  # fmt: skip
        assert migrated.returncode == 0, migrated.stderr
        assert migrated.stdout.startswith("Database postgresql+asyncpg://")
        assert password not in migrated.stdout + migrated.stderr
    finally:
        as_admin(f"DROP DATABASE IF EXISTS {role} WITH (FORCE)")
        as_admin(f"DROP ROLE IF EXISTS {role}")
