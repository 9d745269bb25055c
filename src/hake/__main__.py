"""``python -m hake``: the ``hake`` command line."""

from hake.cli import main

if __name__ == "__main__":
    main()
