"""PAHT intake service."""
