"""Sampling a device for known material in minutes (``safenet sample``).

``plan.py`` picks which 4 KiB blocks to read (uniformly at random, aligned to each volume's start, in disk
order); ``media.py`` reads them (several at once, as the device rewards); ``stats.py`` says what a sample of
that size can and cannot prove; ``sampler.py`` runs it: read, hash, look up in block sets
(``hashsets.blocks``), and state the verdict with its confidence.
"""
