"""Inbound email: a message sent to the province's PAHT address becomes a report (EMAIL.md)."""
