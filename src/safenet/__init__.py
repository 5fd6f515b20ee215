"""Safenet: triage of seized media against national hash sets."""

__version__ = "0.1.0"


def version_line() -> str:
    """What ``safenet --version`` prints, from the fast path in ``safenet.cli`` and from the Typer option."""
    return f"safenet {__version__}"
