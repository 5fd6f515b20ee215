"""Archive formats, one module each; the public API is :mod:`safenet.evidence.archive`."""
