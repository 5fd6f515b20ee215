"""Thin route modules: parse and check at the edge, call a service, render or answer JSON."""
