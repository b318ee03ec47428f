"""The only modules of ``spine.sources`` that speak SQL.

``registry`` keeps spine's own tables (sources, fetches, cache, connections);
``external`` opens the registered connections to other databases and runs queries there.
"""

from spine.sources.store.external import ExternalDatabases
from spine.sources.store.registry import Ref, SourceStore

__all__ = ["ExternalDatabases", "Ref", "SourceStore"]
