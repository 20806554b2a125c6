"""The handling of a report, from assignment to answer: every change is one numbered status event.

Each use case runs in one transaction: it locks the assignment, checks that the actor may act and that the
action applies to the report's state (routing.domain), changes the row, writes the history, and queues the
events (outbox). The HTTP handlers and the consumers of intake's citizen actions call these.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg
import structlog

from paht_shared import outbox
from paht_shared.contracts import MISSING_FIELDS, MediaRef, ReportStatus, ReportSubmittedV1, missing_question, topics
from paht_shared.envelope import Envelope, utc_now
from paht_shared.text import mask_personal_data
from routing import directory, events, repository
from routing.domain import (
    REJECT_REASONS,
    SYSTEM,
    Action,
    Actor,
    Agency,
    Assignment,
    Deadlines,
    IllegalTransition,
    check_transition,
)

log = structlog.get_logger("routing.work")

DEFAULT_WORKING_DAYS = 10  # a category routing does not know (yet): the province's usual answer period


class ReportNotFound(Exception):
    """Unknown report, or one the actor may not see (the same answer: other agencies' reports stay unseen)."""


class NotLeadAgency(Exception):
    """The actor's agency helps with the report but does not lead it (a 403)."""


class InvalidChange(Exception):
    """A request that names something that does not exist (an agency, a report to merge into): a 422."""

    def __init__(self, field: str, code: str) -> None:
        super().__init__(code)
        self.field = field
        self.code = code


@dataclass(frozen=True)
class Cause:
    """Where a change comes from, for the events' correlation."""

    correlation_id: str
    causation_id: str | None = None


@dataclass(frozen=True)
class Workflow:
    deadlines: Deadlines
    coordinator: str
    max_extension_days: int
    _agencies: dict[str, Agency] = field(default_factory=dict, compare=False)

    # --- helpers ---------------------------------------------------------------------------------------

    async def agency(self, conn: asyncpg.Connection, code: str) -> Agency:
        found = await repository.find_agency(conn, code)
        if found is None:
            raise LookupError(f"agency {code} missing from reference data")
        return found

    async def working_days(self, conn: asyncpg.Connection, category: str, urgent: bool) -> int:
        policy = await directory.category_policy(conn, category)
        days = policy.working_days if policy is not None else DEFAULT_WORKING_DAYS
        return self.deadlines.urgent_or(days, urgent)

    async def new_due(self, conn: asyncpg.Connection, a: Assignment, received_at: datetime) -> datetime:
        days = await self.working_days(conn, a.category, a.emergency)
        return self.deadlines.answer_due(received_at, received_at, days, a.emergency)

    async def route(
        self, conn: asyncpg.Connection, a: Assignment, at: datetime, excluding: frozenset[str] = frozenset()
    ) -> tuple[Agency, tuple[str, ...], bool]:
        """The lead agency (and co-processing ones) the current rules give, or the coordinator's triage."""
        found = await directory.resolve_route(conn, a.category, a.ward_code, a.area_code, a.emergency, at, excluding)
        if found is None:
            return await self.agency(conn, self.coordinator), (), True
        return found.lead, tuple(c.code for c in found.co_agencies), False

    async def _change(
        self,
        conn: asyncpg.Connection,
        a: Assignment,
        actor: Actor,
        action: str,
        status: ReportStatus,
        cause: Cause,
        at: datetime,
        *,
        changes: dict[str, Any] | None = None,
        note: str | None = None,
        message: str | None = None,
        media_ids: Sequence[uuid.UUID] = (),
        reason_code: str | None = None,
        routed: bool = False,
        media: Sequence[MediaRef] = (),
    ) -> Assignment:
        """One status change: the row, its history line and its event (plus the new lead's queue item and
        report.routed when the report moved to another agency)."""
        sequence = a.status_sequence + 1
        await repository.update_assignment(
            conn, a.report_id, {"status": status.value, "status_sequence": sequence, **(changes or {})}
        )
        updated = await repository.get_assignment(conn, a.report_id)
        assert updated is not None  # noqa: S101 - we hold its row lock
        agency = await self.agency(conn, updated.agency_code)
        await repository.add_history(conn, a.report_id, sequence, action, status, agency.code, actor, note, at)
        key = str(a.report_id)

        def wrap(payload: Any) -> Envelope:
            return Envelope.of(payload, events.PRODUCER, cause.correlation_id, cause.causation_id)

        # Events never carry personal data: whatever an officer typed is masked before it leaves (intake masks
        # again with the reporter's name, which routing never knows).
        change = events.status_changed(
            updated, agency, sequence, status, at, _masked(note), _masked(message), media_ids, reason_code, media
        )
        await outbox.add(conn, topics.REPORT_STATUS_CHANGED, wrap(change), key)
        if routed:
            await outbox.add(conn, topics.REPORT_ROUTED, wrap(events.report_routed(updated, agency, at)), key)
            await outbox.add(
                conn, topics.agency_inbox(agency.code), wrap(events.agency_assignment(updated, agency, at)), key
            )
        log.info("report_status_changed", report_id=key, action=action, status=status.value, agency=agency.code)
        return updated

    async def _locked(self, conn: asyncpg.Connection, report_id: uuid.UUID, actor: Actor) -> Assignment:
        a = await repository.get_assignment(conn, report_id, for_update=True)
        if a is None or not may_see(a, actor):
            raise ReportNotFound
        return a

    # --- assignment (report.submitted) -----------------------------------------------------------------

    async def assign_submitted(self, conn: asyncpg.Connection, report: ReportSubmittedV1, cause: Cause) -> bool:
        """A new report: the matching rule's agency (or triage), its deadline, three events. False if seen."""
        now = utc_now()
        received_at = report.received_at or report.submitted_at
        found = await directory.resolve_route(
            conn, report.category, report.ward_code, report.area_code, report.emergency, now
        )
        co: tuple[str, ...]
        if found is None or report.missing:
            # An incomplete report (no category or place yet) cannot be matched: the coordinator holds it.
            lead, co, triage = await self.agency(conn, self.coordinator), (), True
        else:
            lead, co, triage = found.lead, tuple(c.code for c in found.co_agencies), False
        days = await self.working_days(conn, report.category, report.emergency)
        due_at = self.deadlines.answer_due(received_at, report.submitted_at, days, report.emergency)
        created = await repository.create_assignment(
            conn,
            {
                "report_id": report.report_id,
                "tracking_code": report.tracking_code,
                "agency_code": lead.code,
                "co_agencies": list(co),
                "category": report.category,
                "ward_code": report.ward_code,
                "area_code": report.area_code,
                "title": report.title,
                "content": report.content,
                "address_text": report.address_text,
                "public": report.public,
                "anonymous": report.anonymous,
                "identity_shared": report.identity_shared,
                "emergency": report.emergency,
                "media_ids": list(report.media_ids),
                "triage": triage,
                "status": ReportStatus.SUBMITTED.value,
                "status_sequence": 0,
                "received_at": received_at,
                "assigned_at": now,
                "due_at": due_at,
            },
        )
        if not created:
            log.info("report_already_assigned", report_id=str(report.report_id))
            return False
        a = await repository.get_assignment(conn, report.report_id, for_update=True)
        assert a is not None  # noqa: S101 - just inserted
        if report.missing:
            # Kept rather than refused (an emailed report): the reporter is asked, and the clock stands still
            # until they answer. Notify's first reply to them already lists what is missing (MISSING_FIELDS).
            await self._change(
                conn, a, SYSTEM, "assign", ReportStatus.NEEDS_INFO, cause, now, routed=True,
                changes={"paused_at": now}, message=missing_question(report.missing), reason_code=MISSING_FIELDS,
            )  # fmt: skip
            return True
        await self._change(conn, a, SYSTEM, "assign", ReportStatus.ASSIGNED, cause, now, routed=True)
        return True

    # --- the lead agency's actions ---------------------------------------------------------------------

    async def accept(self, pool: asyncpg.Pool, report_id: uuid.UUID, actor: Actor, cause: Cause) -> Assignment:
        async with pool.acquire() as conn, conn.transaction():
            a = await self._lead(conn, report_id, actor, Action.ACCEPT)
            now = utc_now()
            return await self._change(
                conn, a, actor, Action.ACCEPT, ReportStatus.IN_PROGRESS, cause, now, changes={"accepted_at": now}
            )

    async def return_report(
        self, pool: asyncpg.Pool, report_id: uuid.UUID, actor: Actor, reason: str, cause: Cause
    ) -> Assignment:
        """Not this agency's competence: counted against nobody but recorded, and re-routed to the next
        matching agency (or to triage when none is left)."""
        async with pool.acquire() as conn, conn.transaction():
            a = await self._lead(conn, report_id, actor, Action.RETURN)
            now = utc_now()
            await repository.add_return(conn, a.report_id, a.agency_code, reason, now)
            returned_by = [*a.returned_by, a.agency_code]
            a = await self._change(
                conn, a, actor, Action.RETURN, ReportStatus.RETURNED, cause, now,
                changes={"returned_by": returned_by}, note=reason,
            )  # fmt: skip
            lead, co, triage = await self.route(conn, a, now, excluding=frozenset(returned_by))
            return await self._reassign(conn, a, SYSTEM, lead.code, list(co), triage, cause, now, "reroute", None)

    async def request_information(
        self, pool: asyncpg.Pool, report_id: uuid.UUID, actor: Actor, question: str, cause: Cause
    ) -> Assignment:
        """Ask the citizen; the deadline stops until they answer."""
        async with pool.acquire() as conn, conn.transaction():
            a = await self._lead(conn, report_id, actor, Action.REQUEST_INFO)
            now = utc_now()
            return await self._change(
                conn, a, actor, Action.REQUEST_INFO, ReportStatus.NEEDS_INFO, cause, now,
                changes={"paused_at": now}, message=question,
            )  # fmt: skip

    async def request_extension(
        self, pool: asyncpg.Pool, report_id: uuid.UUID, actor: Actor, days: int, reason: str, cause: Cause
    ) -> Assignment:
        """Ask the coordinator for more working days (no status change until they decide)."""
        if not 1 <= days <= self.max_extension_days:
            raise InvalidChange("days", "out_of_range")
        async with pool.acquire() as conn, conn.transaction():
            a = await self._lead(conn, report_id, actor, Action.REQUEST_EXTENSION)
            if a.extension_state == "requested":
                raise IllegalTransition("extension_pending")
            changes = {"extension_days": days, "extension_reason": reason, "extension_state": "requested"}
            await repository.update_assignment(conn, a.report_id, changes)
            await repository.add_history(
                conn, a.report_id, a.status_sequence, Action.REQUEST_EXTENSION, a.status, a.agency_code, actor,
                reason, utc_now(),
            )  # fmt: skip
            updated = await repository.get_assignment(conn, a.report_id)
            assert updated is not None  # noqa: S101 - locked
            return updated

    async def post_update(
        self, pool: asyncpg.Pool, report_id: uuid.UUID, actor: Actor, text: str, cause: Cause
    ) -> Assignment:
        """An interim update the citizen sees on the timeline."""
        async with pool.acquire() as conn, conn.transaction():
            a = await self._lead(conn, report_id, actor, Action.UPDATE)
            return await self._change(
                conn, a, actor, Action.UPDATE, ReportStatus.IN_PROGRESS, cause, utc_now(), note=text
            )

    async def contribute(self, pool: asyncpg.Pool, report_id: uuid.UUID, actor: Actor, text: str) -> Assignment:
        """A co-processing agency's part of the answer: for the lead agency, not the citizen."""
        async with pool.acquire() as conn, conn.transaction():
            a = await self._locked(conn, report_id, actor)
            check_transition(Action.CONTRIBUTE, a.status)
            agency = actor.agency if actor.agency in a.co_agencies else None
            if agency is None:
                raise NotLeadAgency  # only co-processing agencies contribute; the lead answers
            now = utc_now()
            await repository.add_contribution(conn, a.report_id, agency, actor.subject, text, now)
            await repository.add_history(
                conn, a.report_id, a.status_sequence, Action.CONTRIBUTE, a.status, agency, actor, None, now
            )
            return a

    async def answer(
        self,
        pool: asyncpg.Pool,
        report_id: uuid.UUID,
        actor: Actor,
        text: str,
        media_ids: list[uuid.UUID],
        cause: Cause,
        proofs: Sequence[MediaRef] = (),
    ) -> Assignment:
        """The lead agency's answer; every open report merged into this one receives the same answer.
        `proofs`: the attachments' upload proofs, for media to claim them for this report (a file belongs to
        one report: the merged ones list the same ids)."""
        async with pool.acquire() as conn, conn.transaction():
            a = await self._lead(conn, report_id, actor, Action.ANSWER)
            now = utc_now()
            changes = {"answer_text": text, "answer_media_ids": media_ids, "answered_at": now, "paused_at": None}
            answered = await self._change(
                conn, a, actor, Action.ANSWER, ReportStatus.ANSWERED, cause, now,
                changes=changes, message=text, media_ids=media_ids, media=proofs,
            )  # fmt: skip
            for merged_id in await repository.merged_into(conn, a.report_id):
                merged = await repository.get_assignment(conn, merged_id, for_update=True)
                assert merged is not None  # noqa: S101 - listed just now
                await self._change(
                    conn, merged, actor, Action.ANSWER, ReportStatus.ANSWERED, cause, now,
                    changes=changes, message=text, media_ids=media_ids,
                    note=f"Trả lời chung với phản ánh {a.tracking_code}.",
                )  # fmt: skip
            return answered

    async def reject(
        self,
        pool: asyncpg.Pool,
        report_id: uuid.UUID,
        actor: Actor,
        reason_code: str,
        note: str | None,
        cause: Cause,
    ) -> Assignment:
        if reason_code not in REJECT_REASONS:
            raise InvalidChange("reason_code", "unknown_reason")
        async with pool.acquire() as conn, conn.transaction():
            a = await self._locked(conn, report_id, actor)
            if actor.role == "officer" and actor.agency != a.agency_code:
                raise NotLeadAgency
            check_transition(Action.REJECT, a.status)
            message = REJECT_REASONS[reason_code] + (f" {note}" if note else "")
            return await self._change(
                conn, a, actor, Action.REJECT, ReportStatus.REJECTED, cause, utc_now(),
                message=message, reason_code=reason_code, changes={"reject_reason_code": reason_code},
            )  # fmt: skip

    async def _lead(self, conn: asyncpg.Connection, report_id: uuid.UUID, actor: Actor, action: Action) -> Assignment:
        """The report, locked, if the actor's agency leads it and the action applies to its state."""
        a = await self._locked(conn, report_id, actor)
        if actor.agency != a.agency_code:
            raise NotLeadAgency  # coordinators coordinate; the lead agency's officers act
        check_transition(action, a.status)
        return a

    # --- the coordinator's actions ---------------------------------------------------------------------

    async def reassign(
        self,
        pool: asyncpg.Pool,
        report_id: uuid.UUID,
        actor: Actor,
        agency_code: str,
        co_agencies: list[str],
        reason: str,
        cause: Cause,
    ) -> Assignment:
        async with pool.acquire() as conn, conn.transaction():
            a = await self._locked(conn, report_id, actor)
            check_transition(Action.REASSIGN, a.status)
            now = utc_now()
            for code in (agency_code, *co_agencies):
                if await directory.agency(conn, code, now) is None:
                    raise InvalidChange("agency_code", "unknown_agency")
            return await self._reassign(conn, a, actor, agency_code, co_agencies, False, cause, now, "reassign", reason)

    async def _reassign(
        self,
        conn: asyncpg.Connection,
        a: Assignment,
        actor: Actor,
        agency_code: str,
        co_agencies: list[str],
        triage: bool,
        cause: Cause,
        now: datetime,
        action: str,
        reason: str | None,
    ) -> Assignment:
        """To another lead agency, with a fresh deadline counted from now (its reception by that agency)."""
        due_at = await self.new_due(conn, a, self.deadlines.calendar.reception_time(now))
        changes = {
            "agency_code": agency_code,
            "co_agencies": co_agencies,
            "triage": triage,
            "assigned_at": now,
            "accepted_at": None,
            "due_at": due_at,
            "paused_at": None,
            "overdue_at": None,
            "due_soon_sent_at": None,
            "extension_state": None,
        }
        return await self._change(
            conn, a, actor, action, ReportStatus.ASSIGNED, cause, now, changes=changes, note=reason, routed=True
        )

    async def merge(
        self, pool: asyncpg.Pool, report_id: uuid.UUID, into: uuid.UUID, actor: Actor, cause: Cause
    ) -> Assignment:
        """A duplicate: it waits for the other report's answer, which then reaches it too."""
        if report_id == into:
            raise InvalidChange("into", "same_report")
        async with pool.acquire() as conn, conn.transaction():
            # lock both in id order: two coordinators merging the pair the other way round cannot deadlock
            first, second = sorted((report_id, into))
            locked = {first: await self._locked(conn, first, actor), second: await self._locked(conn, second, actor)}
            a, target = locked[report_id], locked[into]
            check_transition(Action.MERGE, a.status)
            if target.merged_into is not None or target.status not in (
                ReportStatus.ASSIGNED, ReportStatus.IN_PROGRESS, ReportStatus.NEEDS_INFO, ReportStatus.REOPENED,
            ):  # fmt: skip
                raise InvalidChange("into", "cannot_merge_into")
            return await self._change(
                conn, a, actor, Action.MERGE, ReportStatus.IN_PROGRESS, cause, utc_now(),
                changes={"merged_into": into, "agency_code": target.agency_code},
                note=f"Gộp với phản ánh {target.tracking_code}: hai phản ánh được trả lời chung.",
            )  # fmt: skip

    async def decide_extension(
        self, pool: asyncpg.Pool, report_id: uuid.UUID, actor: Actor, approve: bool, cause: Cause
    ) -> Assignment:
        async with pool.acquire() as conn, conn.transaction():
            a = await self._locked(conn, report_id, actor)
            check_transition(Action.DECIDE_EXTENSION, a.status)
            if a.extension_state != "requested" or a.extension_days is None:
                raise IllegalTransition("no_extension_requested")
            now = utc_now()
            if not approve:
                await repository.update_assignment(conn, a.report_id, {"extension_state": "refused"})
                await repository.add_history(
                    conn, a.report_id, a.status_sequence, "refuse_extension", a.status, a.agency_code, actor, None, now
                )
                updated = await repository.get_assignment(conn, a.report_id)
                assert updated is not None  # noqa: S101 - locked
                return updated
            due_at = self.deadlines.extended(a.due_at, a.extension_days)
            local = due_at.astimezone(self.deadlines.calendar.timezone)
            return await self._change(
                conn, a, actor, "approve_extension", a.status, cause, now,
                changes={"due_at": due_at, "extension_state": "approved", "overdue_at": None, "due_soon_sent_at": None},
                note=f"Gia hạn thời hạn trả lời đến {local:%H:%M %d/%m/%Y}.",
            )  # fmt: skip

    # --- the citizen's actions (report.citizen_actions.v1) ---------------------------------------------

    async def information_provided(self, conn: asyncpg.Connection, report_id: uuid.UUID, cause: Cause) -> None:
        """The citizen answered: the clock runs again, moved on by the time it stood still."""
        a = await repository.get_assignment(conn, report_id, for_update=True)
        if a is None or a.status != ReportStatus.NEEDS_INFO:
            log.info("information_provided_ignored", report_id=str(report_id))
            return
        now = utc_now()
        paused_for = now - a.paused_at if a.paused_at else None
        changes: dict[str, Any] = {"paused_at": None}
        if paused_for is not None:
            changes["due_at"] = a.due_at + paused_for
        await self._change(
            conn, a, citizen_actor(), "information_provided", ReportStatus.IN_PROGRESS, cause, now,
            changes=changes, note="Người phản ánh đã bổ sung thông tin; tiếp tục xử lý.",
        )  # fmt: skip

    async def reopened(self, conn: asyncpg.Connection, report_id: uuid.UUID, reason: str, cause: Cause) -> None:
        """Back to the agency that answered (or, if it is gone, to whoever the current rules give)."""
        a = await repository.get_assignment(conn, report_id, for_update=True)
        if a is None or a.status not in (ReportStatus.ANSWERED, ReportStatus.CLOSED, ReportStatus.REJECTED):
            log.info("reopen_ignored", report_id=str(report_id))
            return
        now = utc_now()
        lead, co, triage = a.agency_code, list(a.co_agencies), a.triage
        if await directory.agency(conn, lead, now) is None:
            agency, co_t, triage = await self.route(conn, a, now)
            lead, co = agency.code, list(co_t)
        await repository.update_assignment(conn, a.report_id, {"reopen_count": a.reopen_count + 1})
        await self._reassign(conn, a, citizen_actor(), lead, co, triage, cause, now, "reopen", f"Mở lại: {reason}")

    async def rated(self, conn: asyncpg.Connection, report_id: uuid.UUID, label: str, cause: Cause) -> None:
        a = await repository.get_assignment(conn, report_id, for_update=True)
        if a is None or a.status != ReportStatus.ANSWERED:
            log.info("rating_ignored", report_id=str(report_id))
            return
        await self._change(
            conn, a, citizen_actor(), "rated", ReportStatus.CLOSED, cause, utc_now(), note=f"Đánh giá: {label}"
        )

    # --- the deadline watch and administrative changes -------------------------------------------------

    async def watch_deadlines(self, pool: asyncpg.Pool, due_soon_days: int, batch: int = 200) -> tuple[int, int]:
        """Mark overdue reports (and tell the agency and the coordinator), remind agencies of deadlines within
        `due_soon_days` working days. Returns (overdue, due soon) counts of this pass."""
        now = utc_now()
        horizon = self.deadlines.calendar.add_working_days(now, due_soon_days)
        overdue = reminded = 0
        async with pool.acquire() as conn, conn.transaction():
            for a in await repository.deadline_candidates(conn, horizon, batch):
                agency = await self.agency(conn, a.agency_code)
                key = str(a.report_id)
                if a.due_at <= now:
                    await repository.update_assignment(conn, a.report_id, {"overdue_at": now})
                    await repository.add_history(
                        conn, a.report_id, a.status_sequence, "overdue", a.status, a.agency_code, SYSTEM, None, now
                    )
                    payload = events.deadline(a, agency, "overdue", self.coordinator, now)
                    overdue += 1
                elif not await repository.due_soon_sent(conn, a.report_id):
                    await repository.update_assignment(conn, a.report_id, {"due_soon_sent_at": now})
                    payload = events.deadline(a, agency, "due_soon", None, now)
                    reminded += 1
                else:
                    continue
                envelope = Envelope.of(payload, events.PRODUCER, f"deadline-{key}")
                await outbox.add(conn, topics.REPORT_DEADLINES, envelope, key)
        if overdue or reminded:
            log.info("deadlines_watched", overdue=overdue, due_soon=reminded)
        return overdue, reminded

    async def reroute_expired(self, pool: asyncpg.Pool, batch: int = 100) -> int:
        """Open reports of agencies that ceased to exist (a merger) move under the current rules, with the
        reason recorded; an agency with a named successor hands its reports to it when no rule matches."""
        now = utc_now()
        moved = 0
        async with pool.acquire() as conn, conn.transaction():
            for a in await repository.led_by_expired_agencies(conn, now, batch):
                old = await self.agency(conn, a.agency_code)
                found = await directory.resolve_route(conn, a.category, a.ward_code, a.area_code, a.emergency, now)
                successor = await directory.replacement(conn, a.agency_code)
                if found is not None:
                    lead, co, triage = found.lead.code, [c.code for c in found.co_agencies], False
                elif successor is not None and await directory.agency(conn, successor, now) is not None:
                    lead, co, triage = successor, [], False
                else:
                    lead, co, triage = self.coordinator, [], True
                reason = f"{old.name} không còn hoạt động (sắp xếp tổ chức bộ máy); chuyển theo phân công hiện hành."
                await self._reassign(
                    conn, a, SYSTEM, lead, co, triage, Cause(f"reroute-{a.report_id}"), now, "reroute_expired", reason
                )
                moved += 1
        if moved:
            log.info("expired_agencies_rerouted", reports=moved)
        return moved


def _masked(text: str | None) -> str | None:
    return mask_personal_data(text) if text else None


def citizen_actor() -> Actor:
    return Actor("citizen", "citizen")


def may_see(a: Assignment, actor: Actor) -> bool:
    """Coordinators and admins see every report; an officer the reports their agency leads or helps with."""
    if actor.role in ("coordinator", "admin", "system", "citizen"):
        return True
    return actor.role == "officer" and actor.agency is not None and a.involves(actor.agency)
