"""vm-api: a REST service that manages hosted developer workspaces."""

__version__ = "0.1.0"
