"""``python -m app``: runs the command line of :mod:`app.cli`."""

import sys

from app.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
