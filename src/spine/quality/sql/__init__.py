"""SQL over users' databases: the checks of a table compiled into as few statements as it needs.

The only quality module besides the store that speaks SQLAlchemy. See docs/quality.md,
"How checks run".
"""

from spine.quality.sql.measure import measure
from spine.quality.sql.samples import sample_rows
from spine.quality.sql.schema import describe_table
from spine.quality.sql.session import count_statements

__all__ = ["count_statements", "describe_table", "measure", "sample_rows"]
