"""PAHT notify service."""
