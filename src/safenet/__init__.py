"""Safenet: triage of seized media against national hash sets."""

__version__ = "0.1.0"
