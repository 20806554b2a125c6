"""The PAHT development stack without Docker: start, bootstrap and stop PostgreSQL, Kafka, S3 and the services.

One module per job; `services.SERVICES` declares the services, and everything else (processes, ports, variables,
roles, schemas, topics, what docker-compose.yml must contain) follows from it. Entry: `python deploy/devstack.py`.
"""
