"""The command groups of ``safenet`` (one module each; ``root`` assembles them into one Typer app).

``common`` holds what they share: exit codes, consoles, the one-sentence error mapping, common options.
"""
