"""Start, bootstrap and stop the PAHT development stack without Docker: `python deploy/devstack.py COMMAND`.

    infra | up | services-up | services-down | down | status | env SERVICE
    broker NAME PORT CONTROLLER_PORT | kill NAME | stop NAME          (failure tests)

`--help` explains each. The code is the paht_devstack package next to this file, one module per job; the services
are declared in paht_devstack/services.py.
"""

from paht_devstack.cli import main

if __name__ == "__main__":
    main()
