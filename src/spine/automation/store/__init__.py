"""The only modules of automation that speak SQL (spine's own database)."""
