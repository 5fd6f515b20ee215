"""The command groups of ``safenet`` (one module each; ``safenet.cli`` assembles them into one app).

``common`` holds what they share: exit codes, consoles, the one-sentence error mapping, common options.
"""
