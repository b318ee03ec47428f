"""The only modules of ``spine.sources`` that speak SQL.

``registry`` keeps spine's own tables (sources, fetches, cache, connections): its
:class:`SourceStore` is made of ``connection_rows``, ``cache_rows`` and ``workspace`` (the
actor and the audit), and ``ref`` names what it reads. ``external`` opens the registered
connections to other databases and runs queries there.
"""

from spine.sources.store.external import ExternalDatabases
from spine.sources.store.registry import Ref, SourceStore

__all__ = ["ExternalDatabases", "Ref", "SourceStore"]
