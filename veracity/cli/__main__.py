"""``python -m veracity.cli``: the ``veracity`` command."""

from veracity.cli import main

if __name__ == "__main__":
    main()
