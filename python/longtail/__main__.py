"""``python -m longtail`` runs the command line."""

from longtail.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
