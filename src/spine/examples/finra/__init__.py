"""The FINRA OTC weekly transparency example: ``spine --app spine.examples.finra``.

Importing this package registers the workflow ``finra.weekly_ingest`` and the pipeline
``finra.parse_tier``.
"""

from spine.examples.finra.workflow import weekly_ingest

__all__ = ["weekly_ingest"]
