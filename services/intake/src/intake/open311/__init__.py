"""Open311 GeoReport v2 at /open311/v2/: another door to intake's one report record and report.submitted event.

mapping.py: the pure translation between Open311 fields and ours (and our statuses to open/closed);
formats.py: JSON and XML answers and errors; keys.py: the integrators' api keys; queries.py: what GET may read
(public reports only); handlers.py: the routes. See services/intake/OPEN311.md.
"""
