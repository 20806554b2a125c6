"""PAHT media service."""
