"""The PAHT shared library: one copy of what every service needs."""
