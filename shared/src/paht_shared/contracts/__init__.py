"""Event contracts: topic names, the report status enum, one pydantic model per event type and version."""
