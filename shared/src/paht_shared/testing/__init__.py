"""Test support: fixtures for the real servers `make test` starts, and the personal data tests use."""
