"""What anyone may see: public reports (/phan-anh, with filters and a map), one public report with its answer
(/phan-anh/{code}), the map alone (/phan-anh/ban-do) and the statistics (/thong-ke). Filters are in the URL:
they are choices from lists and search words, never anything about a person.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from paht_shared.contracts import ReportStatus
from portal.app_keys import BACKENDS, SETTINGS
from portal.charts import Box, bar_chart, report_map
from portal.pick_lists import PICK_LISTS
from portal.rendering import render

PER_PAGE = 20
MAP_PAGES = 3  # the map page plots up to 300 reports (intake's pages hold at most 100)
FILTERS = ("category", "ward_code", "status", "q")
CHART_ROWS = 12  # a phone shows a dozen bars at a glance; 100 wards would be a scroll, not a picture


async def list_reports(request: web.Request) -> web.Response:
    filters = _filters(request)
    page = _page(request)
    found = await _public_page(request, filters, page, PER_PAGE)
    box = Box.parse(request.app[SETTINGS].area_bbox)
    return await render(
        request,
        "citizen/public_list.html",
        status=200 if found["error"] is None else 422,
        found=found,
        filters=filters,
        page=page,
        pages=max(1, -(-found["total"] // PER_PAGE)),
        query=lambda **changes: _query(filters, **changes),
        lists=await request.app[PICK_LISTS].get(request),
        statuses=[(s.value, s.label) for s in ReportStatus],
        report_map=report_map(box, found["items"]),
    )


async def show_map(request: web.Request) -> web.Response:
    filters = _filters(request)
    items: list[dict[str, Any]] = []
    total, error = 0, None
    for page in range(1, MAP_PAGES + 1):
        found = await _public_page(request, filters, page, 100)
        items += found["items"]
        total, error = found["total"], found["error"]
        if error is not None or len(items) >= total:
            break
    return await render(
        request,
        "citizen/public_map.html",
        report_map=report_map(Box.parse(request.app[SETTINGS].area_bbox), items),
        shown=len(items),
        total=total,
        error=error,
        filters=filters,
        list_query=_query(filters),
    )


async def show_report(request: web.Request) -> web.Response:
    code = request.match_info["code"].strip().upper()[:20]
    answer = await request.app[BACKENDS].call("intake", "GET", f"/api/v1/public/reports/{code}")
    if answer.status != 200:
        return await render(request, "citizen/public_missing.html", status=404, code=code)
    box = Box.parse(request.app[SETTINGS].area_bbox)
    return await render(
        request, "citizen/public_report.html", report=answer.body, report_map=report_map(box, [answer.body])
    )


async def statistics(request: web.Request) -> web.Response:
    answer = await request.app[BACKENDS].call("intake", "GET", "/api/v1/public/stats")
    stats: dict[str, Any] = answer.body
    rows = {
        "category": [(str(c["name"]), int(c["count"])) for c in stats["by_category"]],
        "ward": [(str(w["name"]), int(w["count"])) for w in stats["by_ward"]],
        "status": [(str(s["label"]), int(s["count"])) for s in stats["by_status"]],
        "month": [(_month(m), int(n)) for m, n in stats["by_month"].items()],
    }
    return await render(
        request,
        "citizen/stats.html",
        stats=stats,
        rows=rows,
        charts={name: bar_chart(_top(values)) for name, values in rows.items()},
        ratio=stats["answers"]["on_time_ratio"],
    )


async def _public_page(request: web.Request, filters: dict[str, str], page: int, per_page: int) -> dict[str, Any]:
    """One page of intake's public list: {items, total, error}; a filter intake refuses is the error."""
    params = {**filters, "page": str(page), "per_page": str(per_page)}
    answer = await request.app[BACKENDS].call("intake", "GET", "/api/v1/public/reports", params=params)
    if answer.status != 200:
        errors = answer.body.get("errors") if isinstance(answer.body, dict) else None
        message = "; ".join(str(e.get("message")) for e in errors or [] if isinstance(e, dict))
        return {"items": [], "total": 0, "error": message or "Bộ lọc không hợp lệ."}
    return {"items": answer.body["items"], "total": int(answer.body["total"]), "error": None}


def _filters(request: web.Request) -> dict[str, str]:
    return {name: request.query[name].strip()[:200] for name in FILTERS if request.query.get(name, "").strip()}


def _page(request: web.Request) -> int:
    text = request.query.get("page", "1")
    return min(int(text), 10_000) if text.isdigit() and int(text) > 0 else 1


def _query(filters: dict[str, str], **changes: Any) -> str:
    """The list's query string with some parameters changed (pagination links keep the filters)."""
    values = {**filters, **{k: str(v) for k, v in changes.items()}}
    return urlencode({k: v for k, v in values.items() if v and not (k == "page" and v == "1")})


def _top(rows: list[tuple[str, int]], shown: int = CHART_ROWS) -> list[tuple[str, int]]:
    """The largest rows, the rest summed in one bar (the table beside the chart lists every row)."""
    if len(rows) <= shown:
        return rows
    rest = rows[shown - 1 :]
    return [*rows[: shown - 1], (f"{len(rest)} mục khác", sum(n for _, n in rest))]


def _month(key: str) -> str:
    year, _, month = key.partition("-")
    return f"Tháng {int(month)}/{year}" if month.isdigit() else key
