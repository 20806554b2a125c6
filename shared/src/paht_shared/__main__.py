"""Operator commands:

python -m paht_shared relay --dsn DSN --schema SCHEMA --bootstrap HOST:PORT
    an outbox relay for any schema (the kill-and-restart tests use it; handy to drain an outbox by hand)
python -m paht_shared replay-dlq --bootstrap HOST:PORT --topic TOPIC
    send the dead letters of TOPIC back to it, once the cause is fixed
python -m paht_shared outbox parked --dsn DSN --schema SCHEMA
    the outbox rows set aside after Kafka refused them too often: id, topic, attempts, reason, parked_at
python -m paht_shared outbox retry --dsn DSN --schema SCHEMA (--id N [N ...] | --all)
    unpark them once the cause is fixed (topic created, size limit raised): the relays publish them again
python -m paht_shared audit verify --dsn DSN --schema SCHEMA
    recompute the schema's audit-log hash chain: rows checked and the head (note it: truncation leaves a
    shorter chain that still verifies), or the first broken row and why; exits 1 when the chain is broken
python -m paht_shared new-signing-key --out PATH [--kid KID]
    a new Ed25519 staff-token signing key (private JWK, mode 0600) and, beside it, <stem>.jwks.json:
    the public JWKS a service's <PREFIX>_AUTH_JWKS points at
python -m paht_shared mint-token --key-file PATH --role officer --agency SXD --sub alice [--ttl 900]
    print a staff token signed with that key (development and tests)
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

import asyncpg

from paht_shared import audit
from paht_shared.auth import Role, mint_token, write_signing_key
from paht_shared.db import create_pool
from paht_shared.dlq import replay_dead_letters
from paht_shared.logging import configure_logging
from paht_shared.outbox import OutboxRelay, parked_rows, unpark
from paht_shared.runtime import run_until_signalled


async def relay(args: argparse.Namespace) -> None:
    pool = await create_pool(args.dsn, args.schema, min_size=2, max_size=4)
    try:
        worker = OutboxRelay(
            pool,
            args.schema,
            args.bootstrap,
            "paht-relay",
            batch_size=args.batch_size,
            poll_seconds=0.5,
            send_timeout_seconds=args.send_timeout,
        )
        await run_until_signalled([worker])
    finally:
        await pool.close()


async def replay(args: argparse.Namespace) -> None:
    count = await replay_dead_letters(args.bootstrap, args.topic)
    print(f"replayed {count} dead letter(s) to {args.topic}")


async def list_parked(args: argparse.Namespace) -> None:
    conn = await asyncpg.connect(args.dsn, server_settings={"search_path": args.schema})
    try:
        rows = await parked_rows(conn)
    finally:
        await conn.close()
    if not rows:
        print(f"no parked outbox rows in {args.schema}")
        return
    print("id\ttopic\tattempts\treason\tparked_at")
    for row in rows:
        print(f"{row['id']}\t{row['topic']}\t{row['attempts']}\t{row['reason']}\t{row['parked_at'].isoformat()}")


async def retry_parked(args: argparse.Namespace) -> None:
    conn = await asyncpg.connect(args.dsn, server_settings={"search_path": args.schema})
    try:
        count = await unpark(conn, None if args.all else args.ids)
    finally:
        await conn.close()
    print(f"unparked {count} outbox row(s) in {args.schema}; the relays publish them again")


async def verify_audit_log(args: argparse.Namespace) -> None:
    conn = await asyncpg.connect(args.dsn, server_settings={"search_path": args.schema})
    try:
        check = await audit.verify(conn)
    finally:
        await conn.close()
    if not check.ok:
        broken = f"BROKEN at id {check.first_broken_id}: {check.reason}"
        print(f"audit_log of {args.schema}: {broken} ({check.rows} row(s) checked)")
        sys.exit(1)
    head = f"head id {check.head_id}, hash {check.head_hash.hex()}" if check.head_hash else "empty"
    print(f"audit_log of {args.schema}: {check.rows} row(s) checked, OK ({head})")


def new_signing_key(args: argparse.Namespace) -> None:
    out = Path(args.out)
    try:
        jwks_path = write_signing_key(out, args.kid)
    except FileExistsError:
        sys.exit(f"{out} already exists: refusing to replace a signing key")
    print(f"signing key: {out} (keep it secret); public JWKS: {jwks_path}")


def print_token(args: argparse.Namespace) -> None:
    private_jwk = Path(args.key_file).read_text()
    print(mint_token(private_jwk, args.sub, Role(args.role), args.agency, args.ttl, args.issuer, args.audience))


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m paht_shared", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)

    relay_cmd = commands.add_parser("relay", help="an outbox relay for any schema")
    relay_cmd.add_argument("--bootstrap", required=True)
    relay_cmd.add_argument("--dsn", required=True)
    relay_cmd.add_argument("--schema", required=True)
    relay_cmd.add_argument("--batch-size", type=int, default=200)
    relay_cmd.add_argument("--send-timeout", type=float, default=30.0)
    relay_cmd.set_defaults(run=lambda a: asyncio.run(relay(a)))

    replay_cmd = commands.add_parser("replay-dlq", help="send a topic's dead letters back to it")
    replay_cmd.add_argument("--bootstrap", required=True)
    replay_cmd.add_argument("--topic", required=True)
    replay_cmd.set_defaults(run=lambda a: asyncio.run(replay(a)))

    outbox_cmd = commands.add_parser("outbox", help="outbox rows Kafka refused: list or retry the parked ones")
    outbox_commands = outbox_cmd.add_subparsers(dest="outbox_command", required=True)
    parked_cmd = outbox_commands.add_parser("parked", help="list the parked rows of a schema")
    retry_cmd = outbox_commands.add_parser("retry", help="unpark rows: the relays publish them again")
    for sub in (parked_cmd, retry_cmd):
        sub.add_argument("--dsn", required=True)
        sub.add_argument("--schema", required=True)
    which = retry_cmd.add_mutually_exclusive_group(required=True)
    which.add_argument("--id", dest="ids", type=int, nargs="+", action="extend", metavar="N", help="outbox row ids")
    which.add_argument("--all", action="store_true", help="every parked row of the schema")
    parked_cmd.set_defaults(run=lambda a: asyncio.run(list_parked(a)))
    retry_cmd.set_defaults(run=lambda a: asyncio.run(retry_parked(a)))

    audit_cmd = commands.add_parser("audit", help="the audit log's hash chain")
    audit_commands = audit_cmd.add_subparsers(dest="audit_command", required=True)
    verify_cmd = audit_commands.add_parser("verify", help="recompute a schema's chain; exit 1 when broken")
    verify_cmd.add_argument("--dsn", required=True)
    verify_cmd.add_argument("--schema", required=True)
    verify_cmd.set_defaults(run=lambda a: asyncio.run(verify_audit_log(a)))

    key_cmd = commands.add_parser("new-signing-key", help="a new Ed25519 token signing key and its public JWKS")
    key_cmd.add_argument("--out", required=True, help="where the private JWK goes (mode 0600)")
    key_cmd.add_argument("--kid", help="key id (default: the key's RFC 7638 thumbprint)")
    key_cmd.set_defaults(run=new_signing_key)

    mint_cmd = commands.add_parser("mint-token", help="print a staff token (development and tests)")
    mint_cmd.add_argument("--key-file", required=True)
    mint_cmd.add_argument("--role", required=True, choices=[r.value for r in Role])
    mint_cmd.add_argument("--agency", help="agency code; required for officers")
    mint_cmd.add_argument("--sub", required=True, help="the staff member's login")
    mint_cmd.add_argument("--ttl", type=int, default=900, help="seconds until it expires")
    mint_cmd.add_argument("--issuer", default="paht")
    mint_cmd.add_argument("--audience", default="paht")
    mint_cmd.set_defaults(run=print_token)

    args = parser.parse_args()
    if args.command == "mint-token" and args.role == Role.OFFICER and not args.agency:
        mint_cmd.error("an officer token needs --agency")
    configure_logging(f"paht-{args.command}")
    args.run(args)


if __name__ == "__main__":
    main()
