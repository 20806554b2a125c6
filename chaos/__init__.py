"""make chaos: faults injected into the running platform under a steady load, then every guarantee counted.

`python -m chaos.run`: the large size (`make chaos`, on the three-broker cluster) or, with CHAOS_SIZE=small, the size
`make test` runs after pytest. Modules:
stack (the running platform: devstack's processes and servers), load (the citizens), faults (each fault, proved),
verify (what the databases and topics hold), report (the table), run (the schedule and the verdict).
"""
