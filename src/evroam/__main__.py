"""`python -m evroam`: the same as the `evroam` command."""

from evroam.cli import main

if __name__ == "__main__":
    main()
