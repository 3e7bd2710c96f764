"""`python -m backend.cli ...` is the `copyvault` command."""

from backend.cli import main

main()
