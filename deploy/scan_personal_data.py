"""After the tests: fail if the personal data the test session used is in any log, any Kafka record, any
table of the database or any answer of the public API.

    python deploy/scan_personal_data.py [INFRA_DIR] [--topic NAME ...] [--schema NAME ...]

Reads the values the session drew (INFRA_DIR/run/pii-values.json, written by the paht pytest plugin at
session start), then:

- every file under INFRA_DIR/logs and PostgreSQL's server log;
- the key, value and headers of every record of every topic on the broker in INFRA_DIR/stack.json: agency
  queues and dead-letter topics included (`--topic` limits the Kafka part to the topics named);
- every text, character, JSON, XML, bytea and array column of every table of every schema of the database
  (stack.json's `admin_dsn`; `--schema` limits this part to the schemas named). Encrypted columns hold
  AES-GCM ciphertext and blind indexes, which never match; a value stored in clear does, whatever the column;
- intake's public API, as anyone may read it: `/api/v1/public/stats`, every page of `/api/v1/public/reports`
  and each listed report's detail, every page of Open311's `GET /open311/v2/requests.json`. Intake's API is
  run in this process from stack.json's `services.intake` settings, against the same database, so the scan
  does not depend on the service processes still running after the tests.

`make test` runs it after pytest, so it sees what every test left behind whatever order they ran in.

Prints where it found which kind of data (a file; a topic, partition, offset and part; a schema, table and
column with the number of rows; an API path), never the data. Exit status: 0 clean, 1 personal data found,
2 nothing to compare with or a part unreadable (a scan that could not look must not pass).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import structlog
from aiohttp import web
from aiokafka.errors import KafkaError

from paht_shared.testing.pii import VALUES_FILE, Leak, PersonalData, ScanReport, scan_files, scan_kafka

# Column types whose values can hold text: PostgreSQL's string category (text, varchar, char, name, citext…),
# arrays, and these.
TEXT_LIKE_TYPES = ("json", "jsonb", "xml", "bytea")
SYSTEM_SCHEMAS = ("pg_catalog", "information_schema", "pg_toast")
PUBLIC_PAGE = 100  # intake's largest per_page
OPEN311_PAGE = 1000  # Open311's largest page_size
DETAILS_AT_ONCE = 8


def log_files(infra: Path) -> list[Path]:
    files = sorted(p for p in (infra / "logs").rglob("*") if p.is_file())
    postgres = infra / "pg" / "server.log"  # written by pg_ctl next to the data folder, not in logs/
    return [*files, postgres] if postgres.exists() else files


# ------------------------------------------------------------------------------------------------- database

COLUMNS = """
SELECT n.nspname AS schema, c.relname AS table, a.attname AS column, t.typname = 'bytea' AS raw
  FROM pg_attribute a
  JOIN pg_class c ON c.oid = a.attrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_type t ON t.oid = a.atttypid
 WHERE c.relkind IN ('r', 'p', 'm')
   AND a.attnum > 0 AND NOT a.attisdropped
   AND n.nspname <> ALL($1::text[]) AND n.nspname NOT LIKE 'pg\\_temp\\_%' AND n.nspname NOT LIKE 'pg\\_toast%'
   AND ($2::text[] IS NULL OR n.nspname = ANY($2::text[]))
   AND (t.typcategory IN ('S', 'A') OR t.typname = ANY($3::text[]))
 ORDER BY n.nspname, c.relname, a.attnum
"""


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _value_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


async def scan_database(dsn: str, person: PersonalData, schemas: Sequence[str] | None = None) -> ScanReport:
    """Every text-like column of every table: rows read (`scanned`), and per column the kinds found and in
    how many rows. bytea is read as bytes (a name stored in clear in a bytea column is still a name)."""
    report, needles = ScanReport(), person.needles()
    conn = await asyncpg.connect(dsn)
    try:
        columns = await conn.fetch(COLUMNS, list(SYSTEM_SCHEMAS), list(schemas) if schemas else None, TEXT_LIKE_TYPES)
        tables: dict[tuple[str, str], list[tuple[str, bool]]] = {}
        for row in columns:
            tables.setdefault((row["schema"], row["table"]), []).append((row["column"], row["raw"]))
        for (schema, table), cols in tables.items():
            select = ", ".join(_ident(name) if raw else f"{_ident(name)}::text" for name, raw in cols)
            found: dict[str, tuple[set[str], int]] = {}
            try:
                async with conn.transaction(readonly=True):
                    async for record in conn.cursor(f"SELECT {select} FROM {_ident(schema)}.{_ident(table)}"):
                        report.scanned += 1
                        for (name, _raw), value in zip(cols, record.values(), strict=True):
                            text = _value_text(value)
                            kinds = {kind for needle, kind in needles.items() if needle in text}
                            if kinds:
                                seen, rows = found.get(name, (set(), 0))
                                found[name] = (seen | kinds, rows + 1)
            except (asyncpg.UndefinedTableError, asyncpg.InvalidSchemaNameError):
                continue  # dropped since it was listed (a test's schema)
            for name, (kinds, rows) in found.items():
                report.leaks.append(Leak(f"database {schema}.{table}.{name} ({rows} row(s))", tuple(sorted(kinds))))
    finally:
        await conn.close()
    return report


# ------------------------------------------------------------------------------------------------ public API


def intake_settings(values: dict[str, str]) -> Any:
    from intake.config import Settings  # noqa: PLC0415 - only this part of the scan needs intake

    prefix = "INTAKE_"
    fields: dict[str, Any] = {k[len(prefix) :].lower(): v for k, v in values.items() if k.startswith(prefix)}
    return Settings(**fields)


async def scan_public_api(intake_env: dict[str, str], person: PersonalData) -> ScanReport:
    """Intake's public answers, from an intake API run here on a free port (no log output)."""
    from intake.app import build_app  # noqa: PLC0415

    structlog.configure(logger_factory=structlog.ReturnLoggerFactory())  # the scan prints only its findings
    runner = web.AppRunner(build_app(intake_settings(intake_env)), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    report, needles = ScanReport(), person.needles()

    async def read(http: aiohttp.ClientSession, path: str) -> Any:
        async with http.get(f"http://{host}:{port}{path}") as resp:
            text = await resp.text()
            if resp.status != 200:
                raise RuntimeError(f"public API GET {path} answered {resp.status}")
        report.scanned += 1
        kinds = sorted({kind for needle, kind in needles.items() if needle in text})
        if kinds:
            report.leaks.append(Leak(f"public API GET {path}", tuple(kinds)))
        return json.loads(text)

    try:
        async with aiohttp.ClientSession() as http:
            await read(http, "/api/v1/public/stats")
            codes: list[str] = []
            page = 1
            while True:
                listed = await read(http, f"/api/v1/public/reports?page={page}&per_page={PUBLIC_PAGE}")
                codes += [item["tracking_code"] for item in listed["items"]]
                if not listed["items"] or page * PUBLIC_PAGE >= listed["total"]:
                    break
                page += 1
            at_once = asyncio.Semaphore(DETAILS_AT_ONCE)

            async def detail(code: str) -> None:
                async with at_once:
                    await read(http, f"/api/v1/public/reports/{code}")

            await asyncio.gather(*(detail(code) for code in codes))
            page = 1
            while len(await read(http, f"/open311/v2/requests.json?page={page}&page_size={OPEN311_PAGE}")) == (
                OPEN311_PAGE
            ):
                page += 1
    finally:
        await runner.cleanup()
    return report


# ---------------------------------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("infra", nargs="?", type=Path, default=Path(".infra"))
    parser.add_argument("--topic", action="append", dest="topics", help="scan only this topic (repeatable)")
    parser.add_argument("--schema", action="append", dest="schemas", help="scan only this schema (repeatable)")
    args = parser.parse_args()
    values = args.infra / VALUES_FILE
    if not values.exists():
        print(f"personal data scan: {values} is missing: run the tests first (their session writes it)")
        return 2
    person = PersonalData.load(values)
    logs = scan_files(log_files(args.infra), person)
    stack = json.loads((args.infra / "stack.json").read_text())
    bootstrap = stack["kafka_bootstrap"]
    try:
        kafka = asyncio.run(scan_kafka(bootstrap, person, args.topics))
    except (KafkaError, OSError, LookupError, TimeoutError) as exc:
        print(f"personal data scan: cannot read Kafka at {bootstrap}: {type(exc).__name__}: {exc}")
        return 2
    try:
        database = asyncio.run(scan_database(stack["admin_dsn"], person, args.schemas))
    except (OSError, asyncpg.PostgresError, KeyError) as exc:
        print(f"personal data scan: cannot read the database: {type(exc).__name__}")  # the DSN holds a password
        return 2
    try:
        api = asyncio.run(scan_public_api(stack["services"]["intake"], person))
    except (OSError, aiohttp.ClientError, RuntimeError, KeyError, ValueError) as exc:
        print(f"personal data scan: cannot read intake's public API: {type(exc).__name__}: {exc}")
        return 2
    return report(logs, kafka, database, api)


def report(logs: ScanReport, kafka: ScanReport, database: ScanReport, api: ScanReport) -> int:
    leaks = [*logs.leaks, *kafka.leaks, *database.leaks, *api.leaks]
    summary = (
        f"{logs.scanned} log file(s), {kafka.scanned} Kafka record(s), {database.scanned} database row(s), "
        f"{api.scanned} public API answer(s)"
    )
    if leaks:
        shown = leaks[:50]
        more = f"\n  … and {len(leaks) - len(shown)} more" if len(leaks) > len(shown) else ""
        print(f"personal data found ({summary}):\n  " + "\n  ".join(map(str, shown)) + more)
        return 1
    print(f"personal data scan: {summary}, none found")
    return 0


if __name__ == "__main__":
    sys.exit(main())
