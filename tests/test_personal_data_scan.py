"""The post-run personal-data scan (deploy/scan_personal_data.py) really looks: it can fail.

`make test` runs the scan after pytest over every log, every topic, every table and intake's public API;
these tests run the same script against a log folder of their own, the real broker and the real database
(a scratch schema of their own), where they put this session's data on purpose.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiokafka.admin import AIOKafkaAdminClient

from paht_shared.crypto import FieldCipher, Keyring
from paht_shared.testing import pii
from paht_shared.testing.kafka import publish, wait_until

ROOT = Path(__file__).resolve().parents[1]


def scan(infra: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "deploy/scan_personal_data.py"), str(infra), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,  # the exit status is what the tests look at
    )


@pytest.fixture
def infra(tmp_path: Path, stack: dict[str, Any]) -> Path:
    """An infra folder of the test's own: this session's values, clean logs, the real broker and database."""
    own = {key: stack[key] for key in ("kafka_bootstrap", "admin_dsn")}
    own["services"] = {"intake": stack["services"]["intake"]}
    (tmp_path / "stack.json").write_text(json.dumps(own))
    pii.PERSON.save(tmp_path / pii.VALUES_FILE)
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "intake-api.log").write_text('{"event": "report_received", "report_id": "r1"}\n')
    (tmp_path / "pg").mkdir()
    (tmp_path / "pg" / "server.log").write_text("LOG:  database system is ready to accept connections\n")
    return tmp_path


@pytest.fixture
async def scratch_schema(admin_dsn: str) -> AsyncIterator[str]:
    """A schema nobody else uses, dropped afterwards so the final scan never sees what we put in."""
    schema = f"pii_scan_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f"CREATE SCHEMA {schema}")
    finally:
        await conn.close()
    yield schema
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f"DROP SCHEMA {schema} CASCADE")
    finally:
        await conn.close()


@pytest.fixture
async def own_topic(kafka_bootstrap: str, new_topic: Callable[..., Awaitable[str]]) -> AsyncIterator[str]:
    """A dead-letter topic nobody else uses, deleted afterwards so the final scan never sees what we put in."""
    topic = await new_topic("pii-scan", partitions=1)
    yield f"{topic}.dlq"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.delete_topics([topic, f"{topic}.dlq"])

        async def gone() -> bool:
            return not {topic, f"{topic}.dlq"} & set(await admin.list_topics())

        await wait_until(gone, 30)
    finally:
        await admin.close()


async def test_scan_finds_a_phone_number_in_a_header_of_any_topic(
    infra: Path, own_topic: str, kafka_bootstrap: str
) -> None:
    """Clean logs and a clean record pass; the session's phone in one header of one record fails the run."""
    clean = pii.PersonalData.generate()  # another person's data on the wire is not this run's leak
    await publish(kafka_bootstrap, own_topic, [b'{"event_id": "e1"}'], headers=[("x-contact", clean.phone.encode())])
    passed = scan(infra, "--topic", own_topic)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "1 Kafka record(s)" in passed.stdout

    await publish(kafka_bootstrap, own_topic, [b'{"event_id": "e2"}'], headers=[("x-contact", pii.PHONE.encode())])
    failed = scan(infra)  # no --topic: every topic on the broker, the way `make test` runs it
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert f"{own_topic}[0]@1 header #0: phone" in failed.stdout
    assert f"{own_topic}[0]@0" not in failed.stdout
    assert "intake-api.log" not in failed.stdout
    assert "server.log" not in failed.stdout
    assert pii.find_leaks(failed.stdout + failed.stderr) == []  # where and what kind, never the value


def test_scan_reads_every_log_including_escaped_json_and_postgres(infra: Path, own_topic: str) -> None:
    """A name escaped by a JSON logger and a CCCD in PostgreSQL's own log are both reported."""
    escaped = json.dumps({"event": "request_failed", "detail": pii.FULL_NAME})  # ensure_ascii: Nguy\u1ec5n …
    (infra / "logs" / "routing-consume.log").write_text(escaped + "\n")
    with (infra / "pg" / "server.log").open("a") as log:
        log.write(f"DETAIL:  Key (cccd)=({pii.CCCD}) already exists.\n")
    result = scan(infra, "--topic", own_topic)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{infra / 'logs' / 'routing-consume.log'}: full_name" in result.stdout
    assert f"{infra / 'pg' / 'server.log'}: cccd" in result.stdout
    assert "intake-api.log" not in result.stdout


def test_scan_without_this_runs_values_fails_instead_of_passing(infra: Path) -> None:
    """Nothing to look for is not the same as nothing found."""
    (infra / pii.VALUES_FILE).unlink()
    result = scan(infra)
    assert result.returncode == 2, result.stdout
    assert "pii-values.json is missing" in result.stdout


async def test_scan_reads_every_table_and_tells_plaintext_from_ciphertext(
    infra: Path, own_topic: str, scratch_schema: str, admin_dsn: str
) -> None:
    """Encrypted columns pass; a CCCD in a JSON column and a name in a bytea column, stored in clear, fail,
    named by schema, table and column, never by value."""
    cipher = FieldCipher(Keyring.parse("k1:" + base64.b64encode(os.urandom(32)).decode()))
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(
            f"CREATE TABLE {scratch_schema}.reporters (id int, name_enc bytea, phone_enc bytea, note text)"
        )
        await conn.execute(
            f"INSERT INTO {scratch_schema}.reporters VALUES (1, $1, $2, 'đã ẩn')",
            cipher.encrypt(pii.FULL_NAME, "reporters.name:1"),
            cipher.encrypt(pii.PHONE, "reporters.phone:1"),
        )
        clean = scan(infra, "--topic", own_topic, "--schema", scratch_schema)
        assert clean.returncode == 0, clean.stdout + clean.stderr
        assert "1 database row(s)" in clean.stdout

        await conn.execute(f"CREATE TABLE {scratch_schema}.leaky (id int, payload jsonb, raw bytea, ok text)")
        await conn.execute(
            f"INSERT INTO {scratch_schema}.leaky VALUES (1, $1::jsonb, $2, 'x'), (2, '{{}}', NULL, 'y')",
            json.dumps({"reporter": {"cccd": pii.CCCD}}),
            pii.FULL_NAME.encode(),
        )
    finally:
        await conn.close()
    leaked = scan(infra, "--topic", own_topic, "--schema", scratch_schema)
    assert leaked.returncode == 1, leaked.stdout + leaked.stderr
    assert f"database {scratch_schema}.leaky.payload (1 row(s)): cccd" in leaked.stdout
    assert f"database {scratch_schema}.leaky.raw (1 row(s)): full_name" in leaked.stdout
    assert "reporters" not in leaked.stdout  # ciphertext never matches
    assert ".ok" not in leaked.stdout
    assert pii.find_leaks(leaked.stdout + leaked.stderr) == []


def test_scan_reads_intakes_public_api(infra: Path, own_topic: str, scratch_schema: str) -> None:
    """Public stats, every page of the public list with each report's detail, and Open311's pages: at least
    the stats, one list page and one Open311 page are read, clean."""
    result = scan(infra, "--topic", own_topic, "--schema", scratch_schema)
    assert result.returncode == 0, result.stdout + result.stderr
    answers = re.search(r"(\d+) public API answer\(s\)", result.stdout)
    assert answers is not None, result.stdout
    assert int(answers.group(1)) >= 3
