"""``spine secret-key``: print a new key; ``spine secret-key rotate``: re-seal stored secrets."""

from __future__ import annotations

import typer

from spine.cli.context import state

app = typer.Typer(
    help="Print a new Fernet key for SPINE_SECRET_KEY (encrypts stored credentials); "
    "`rotate` re-seals the stored secrets with the first key.",
    invoke_without_command=True,
)


@app.callback()
def secret_key_command(ctx: typer.Context) -> None:
    """Print a new Fernet key for SPINE_SECRET_KEY (encrypts stored credentials)."""
    if ctx.invoked_subcommand is None:
        from spine.core.crypto import generate_key

        typer.echo(generate_key())


@app.command("rotate")
def rotate_command(ctx: typer.Context) -> None:
    """Re-seal every stored secret with the first key of SPINE_SECRET_KEY (NEW,OLD,...).

    One transaction: a secret no key opens changes nothing. Afterwards the old keys can
    be removed from SPINE_SECRET_KEY.
    """
    from spine.core.crypto import SecretBox
    from spine.core.errors import ConfigurationError

    services = state(ctx).services()
    settings = services.settings
    if not settings.secret_key:
        path = settings.local_secret_key_path()
        if path is not None:
            raise ConfigurationError(
                f"SPINE_SECRET_KEY is not set: secrets here are sealed with the local key in "
                f"{path}; to rotate, run with SPINE_SECRET_KEY=NEW,$(cat {path}) "
                "(NEW from `spine secret-key`) and keep SPINE_SECRET_KEY=NEW set afterwards"
            )
        raise ConfigurationError(
            "SPINE_SECRET_KEY is not set: give the new key first and the old keys after, "
            "comma-separated (SPINE_SECRET_KEY=NEW,OLD; NEW from `spine secret-key`)"
        )
    SecretBox(settings.secret_key)  # a malformed key is refused before the database is read
    # Every place spine seals a secret: alert channels' configs, and the configs of spec
    # 004's `connections` (a password reference, never a password; `plain:` ones, stored
    # while no key was set, are sealed now). tests/test_house_rules.py holds this.
    secrets, channels = services.alerting().reseal_secrets(settings.secret_key)
    mirrors = services.sources.connections.reseal_mirrors(settings.secret_key)
    typer.echo(
        f"re-sealed {secrets} secret{'s' * (secrets != 1)} in {channels} alert "
        f"channel{'s' * (channels != 1)} and {mirrors} connection "
        f"config{'s' * (mirrors != 1)} with the first key of SPINE_SECRET_KEY; "
        "the keys after it can now be removed"
    )
