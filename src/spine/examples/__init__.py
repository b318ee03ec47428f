"""Example applications built on spine (import one with ``spine --app``)."""
