"""PAHT routing service."""
