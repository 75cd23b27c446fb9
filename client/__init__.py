"""Workflows' client: what billing and ops call to act on accounts, and the server setup the workflows need."""

from client.collections import CollectionsClient
from client.inputs import InputError

__all__ = ["CollectionsClient", "InputError"]
