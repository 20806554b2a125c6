"""The ceilings intake's submissions are compared with, each a bare aiohttp app in one process like intake's API:

    python -m benchmarks.ceiling insert --port N --dsn ADMIN_DSN
    python -m benchmarks.ceiling echo --port N

`insert`: POST /api/v1/reports parses the JSON body and, in one transaction, inserts the same report row and
outbox row intake writes (copies of intake's newest web report and its report.submitted event, with new ids)
into a scratch schema whose tables have intake's shape (columns, defaults, indexes), through paht_shared's
pool and outbox.add. No validation, encryption, idempotency, rate limits, reporter or timeline rows: the
least any implementation of the same durable write must do. The scratch schema is dropped on exit.

`echo`: the body parsed and sent back as JSON: the HTTP stack alone, no database.
"""

from __future__ import annotations

import argparse
import secrets
import uuid
from typing import Any

import asyncpg
from aiohttp import web

from paht_shared import outbox
from paht_shared.contracts import topics
from paht_shared.db import create_pool
from paht_shared.envelope import Envelope, utc_now
from paht_shared.settings import ServiceSettings

SCHEMA = "bench_ceiling"
POOL_MAX = int(ServiceSettings.model_fields["db_pool_max"].default)  # intake's API pool, by default
TEMPLATE: web.AppKey[tuple[dict[str, Any], Envelope]] = web.AppKey("template", tuple)
POOL: web.AppKey[asyncpg.Pool] = web.AppKey("pool", asyncpg.Pool)
_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # intake's tracking-code alphabet


async def make_scratch_schema(conn: asyncpg.Connection) -> tuple[dict[str, Any], Envelope]:
    """The scratch tables (LIKE intake's: FKs are not copied, and the outbox gets a sequence of its own so
    intake's ids are not consumed) and the template row and event; fails on a stack without a web report."""
    await conn.execute(
        f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE; CREATE SCHEMA {SCHEMA}; "
        f"CREATE TABLE {SCHEMA}.reports (LIKE intake.reports INCLUDING ALL); "
        f"CREATE SEQUENCE {SCHEMA}.outbox_id_seq; "
        f"CREATE TABLE {SCHEMA}.outbox (LIKE intake.outbox INCLUDING ALL); "
        f"ALTER TABLE {SCHEMA}.outbox ALTER COLUMN id SET DEFAULT nextval('{SCHEMA}.outbox_id_seq')"
    )
    row = await conn.fetchrow(
        "SELECT r.*, o.payload FROM intake.reports r JOIN intake.outbox o ON o.key = r.id::text "
        "WHERE r.channel = 'web' AND o.topic = $1 ORDER BY r.submitted_at DESC LIMIT 1",
        topics.REPORT_SUBMITTED,
    )
    if row is None:
        raise SystemExit("ceiling: intake has no web report with its event yet to copy (submit one first)")
    report = dict(row)
    return report, Envelope.from_bytes(bytes(report.pop("payload")))


async def insert_report(request: web.Request) -> web.Response:
    await request.json()  # parsed, as intake must; the stored values are the template's
    report, event = request.app[TEMPLATE]
    now = utc_now()
    row = report | {
        "id": uuid.uuid4(),
        "tracking_code": "PA-" + "".join(secrets.choice(_CODE_ALPHABET) for _ in range(8)),
        "submitted_at": now,
        "received_at": now,
        "updated_at": now,
    }
    marks = ", ".join(f"${i}" for i in range(1, len(row) + 1))
    async with request.app[POOL].acquire() as conn, conn.transaction():
        await conn.execute(f"INSERT INTO reports ({', '.join(row)}) VALUES ({marks})", *row.values())
        await outbox.add(conn, topics.REPORT_SUBMITTED, event.model_copy(update={"event_id": uuid.uuid4()}),
                         key=str(row["id"]))  # fmt: skip
    return web.json_response({"id": str(row["id"]), "tracking_code": row["tracking_code"]}, status=201)


async def echo(request: web.Request) -> web.Response:
    return web.json_response(await request.json())


def insert_app(dsn: str) -> web.Application:
    app = web.Application()

    async def open_pool(app: web.Application) -> None:
        app[POOL] = await create_pool(dsn, SCHEMA, min_size=POOL_MAX, max_size=POOL_MAX)
        async with app[POOL].acquire() as conn:
            app[TEMPLATE] = await make_scratch_schema(conn)

    async def drop_schema(app: web.Application) -> None:
        async with app[POOL].acquire() as conn:
            await conn.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        await app[POOL].close()

    app.on_startup.append(open_pool)
    app.on_cleanup.append(drop_schema)
    app.router.add_post("/api/v1/reports", insert_report)
    return app


def echo_app() -> web.Application:
    app = web.Application()
    app.router.add_post("/api/v1/reports", echo)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ceiling")
    parser.add_argument("kind", choices=["insert", "echo"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dsn", help="an admin DSN (insert: creates and drops the scratch schema)")
    args = parser.parse_args()
    if args.kind == "insert" and not args.dsn:
        parser.error("insert needs --dsn")
    app = insert_app(args.dsn) if args.kind == "insert" else echo_app()
    # as intake's API runs (paht_shared.runtime.run_http): the default event loop, no access log
    web.run_app(app, host="127.0.0.1", port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
