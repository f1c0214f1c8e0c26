"""The command line for people: `vm-api ws ...`, a client of the HTTP API and nothing else."""
