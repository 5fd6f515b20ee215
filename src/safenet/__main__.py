"""``python -m safenet`` runs the command line."""

from safenet.cli import run

run()
