"""Notify's API as an OpenAPI document: the delivery log and the agencies' notification mode."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict

from notify.domain import Delivery
from paht_shared.auth import Role
from paht_shared.openapi import STAFF, ApiDescription, Operation

Mode = Literal["immediate", "hourly", "twice_daily"]


class DeliveriesQuery(BaseModel):
    report_id: uuid.UUID


class ModeChoice(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mode: Mode


class AgencyMode(BaseModel):
    agency_code: str
    mode: Mode


OPERATIONS = (
    Operation(
        "GET",
        "/api/v1/deliveries",
        "The messages sent about a report (they hold recipient addresses).",
        {200: list[Delivery]},
        query=DeliveriesQuery,
        auth=(STAFF,),
        roles=(Role.COORDINATOR, Role.ADMIN),
        tags=("deliveries",),
    ),
    Operation(
        "PUT",
        "/api/v1/agencies/{code}/notification-mode",
        "An email per report or a digest, for one agency.",
        {200: AgencyMode},
        body=ModeChoice,
        auth=(STAFF,),
        roles=(Role.OFFICER, Role.COORDINATOR, Role.ADMIN),
        tags=("agencies",),
    ),
)

API = ApiDescription(
    title="PAHT notify",
    version="1",
    description="The delivery log of messages to agencies and citizens.",
    operations=OPERATIONS,
)
