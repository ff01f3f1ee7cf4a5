"""The command line, ``python -m app …``: :mod:`app.cli.main` builds the parser from the
command groups (``demo``, ``query``, ``analyze``, ``infra``, ``bus``), one module each."""
