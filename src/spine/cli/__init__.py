"""The ``spine`` command line (Typer), one command group per part."""
