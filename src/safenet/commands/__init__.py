"""Command groups that live outside ``safenet.cli`` (each registered there with one line).

They import ``safenet.cli`` only when a command runs, so either module may be imported first.
"""
