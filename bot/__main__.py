"""`python -m bot …` is the `sevbot` command."""
import sys

from bot.cli import main

sys.exit(main())
