"""SQL over users' databases: the checks compiled into as few statements as a table needs."""
