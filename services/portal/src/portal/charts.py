"""Geometry of the server-drawn SVG pictures: horizontal bar charts and the map of public reports.

Pure functions; the templates draw the shapes. No chart library and no map tiles: the pictures are made from
our own numbers, load nothing from another site, and every one has its numbers as a table beside it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

BAR_CHART_WIDTH = 480
ROW_HEIGHT = 40  # a label line above each bar: long Vietnamese category names fit a phone's width
BAR_THICKNESS = 14
LABEL_CHARS = 58


@dataclass(frozen=True)
class Bar:
    label: str  # shortened to fit; the table beside the chart has the full name
    value: int
    label_y: float
    bar_y: float
    width: float
    value_x: float


@dataclass(frozen=True)
class BarChart:
    width: int
    height: int
    thickness: int
    bars: tuple[Bar, ...]


def bar_chart(rows: Sequence[tuple[str, int]], width: int = BAR_CHART_WIDTH) -> BarChart:
    """One bar per (label, value), longest bar = the largest value, leaving room for the number after it."""
    largest = max((value for _, value in rows), default=0) or 1
    room = width - 60
    bars = tuple(
        Bar(
            label=_shorten(label, LABEL_CHARS),
            value=value,
            label_y=index * ROW_HEIGHT + 14,
            bar_y=index * ROW_HEIGHT + 20,
            width=max(2.0, room * value / largest) if value else 0.0,
            value_x=(max(2.0, room * value / largest) if value else 0.0) + 6,
        )
        for index, (label, value) in enumerate(rows)
    )
    return BarChart(width=width, height=max(1, len(rows)) * ROW_HEIGHT, thickness=BAR_THICKNESS, bars=bars)


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


@dataclass(frozen=True)
class Box:
    """The tenant's area: south, west, north, east in degrees (intake's area_bbox)."""

    south: float
    west: float
    north: float
    east: float

    @classmethod
    def parse(cls, text: str) -> Box:
        south, west, north, east = (float(part) for part in text.split(","))
        return cls(south, west, north, east)

    def contains(self, lat: float, lon: float) -> bool:
        return self.south <= lat <= self.north and self.west <= lon <= self.east


@dataclass(frozen=True)
class MapPoint:
    x: float
    y: float
    code: str
    title: str
    status: str
    status_label: str


@dataclass(frozen=True)
class Landmark:
    x: float
    y: float
    name: str


@dataclass(frozen=True)
class GridLine:
    position: float
    label: str


@dataclass(frozen=True)
class ReportMap:
    width: int
    height: int
    points: tuple[MapPoint, ...]
    without_point: int  # reports on the page that gave no map point (placed by ward in the list only)
    landmarks: tuple[Landmark, ...]
    parallels: tuple[GridLine, ...]  # horizontal lines, y
    meridians: tuple[GridLine, ...]  # vertical lines, x


# Places people orient themselves by, so that a dot means something without map tiles.
LANDMARKS = (
    (10.0340, 105.7880, "Ninh Kiều"),
    (9.6030, 105.9800, "Sóc Trăng"),
    (9.7850, 105.4700, "Vị Thanh"),
    (9.5640, 106.2880, "Trần Đề"),
)


def report_map(box: Box, reports: Iterable[dict[str, object]], width: int = 480) -> ReportMap:
    """Reports with a map point inside the box, projected onto a width-wide picture (equirectangular, with
    the longitude scaled by cos(latitude): at 10° N a degree of longitude is 98.5% of one of latitude)."""
    squeeze = math.cos(math.radians((box.south + box.north) / 2))
    height = round(width * (box.north - box.south) / ((box.east - box.west) * squeeze))

    def place(lat: float, lon: float) -> tuple[float, float]:
        x = (lon - box.west) / (box.east - box.west) * width
        y = (box.north - lat) / (box.north - box.south) * height
        return round(x, 1), round(y, 1)

    points: list[MapPoint] = []
    without = 0
    for report in reports:
        lat, lon = report.get("lat"), report.get("lon")
        if not isinstance(lat, int | float) or not isinstance(lon, int | float) or not box.contains(lat, lon):
            without += 1
            continue
        x, y = place(lat, lon)
        points.append(
            MapPoint(x, y, str(report["tracking_code"]), str(report["title"]), str(report["status"]),
                     str(report.get("status_label") or ""))
        )  # fmt: skip
    landmarks = tuple(Landmark(*place(lat, lon), name) for lat, lon, name in LANDMARKS if box.contains(lat, lon))
    parallels = tuple(GridLine(place(lat, box.west)[1], f"{lat:.2f}°B") for lat in _ticks(box.south, box.north, 0.25))
    meridians = tuple(GridLine(place(box.south, lon)[0], f"{lon:.2f}°Đ") for lon in _ticks(box.west, box.east, 0.25))
    return ReportMap(width, height, tuple(points), without, landmarks, parallels, meridians)


def _ticks(low: float, high: float, step: float) -> list[float]:
    first = math.ceil(low / step) * step
    count = int((high - first) / step) + 1
    return [round(first + i * step, 4) for i in range(count) if low < first + i * step < high]
