"""python -m paht_devstack COMMAND (with deploy/ on the path); deploy/devstack.py does the same."""

from paht_devstack.cli import main

main()
