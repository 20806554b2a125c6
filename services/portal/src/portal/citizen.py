"""The citizen site: send a report, follow it, public reports and statistics.

submit_pages.py: the form, uploads, the receipt; tracking_pages.py: following one's report and acting on it;
public_pages.py: public reports, their map and the statistics.
"""

from __future__ import annotations

from aiohttp import web

from portal import public_pages, submit_pages, tracking_pages
from portal.pick_lists import PICK_LISTS, PickListCache


def add_routes(app: web.Application) -> None:
    """Registered by app.py."""
    app[PICK_LISTS] = PickListCache()
    app.router.add_get("/gui-phan-anh", submit_pages.show_form)
    app.router.add_post("/gui-phan-anh", submit_pages.submit)
    app.router.add_post("/tai-len", submit_pages.upload)
    app.router.add_get("/da-gui", submit_pages.receipt)
    app.router.add_get("/tra-cuu", tracking_pages.show)
    app.router.add_post("/tra-cuu", tracking_pages.open_report)
    app.router.add_post("/tra-cuu/danh-gia", tracking_pages.rate)
    app.router.add_post("/tra-cuu/mo-lai", tracking_pages.reopen)
    app.router.add_post("/tra-cuu/bo-sung", tracking_pages.provide_information)
    app.router.add_post("/tra-cuu/dong", tracking_pages.close)
    app.router.add_get("/phan-anh", public_pages.list_reports)
    app.router.add_get("/phan-anh/ban-do", public_pages.show_map)
    app.router.add_get("/phan-anh/{code}", public_pages.show_report)
    app.router.add_get("/thong-ke", public_pages.statistics)
