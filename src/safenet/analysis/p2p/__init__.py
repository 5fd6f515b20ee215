"""Peer-to-peer clients' own records: what a client shared, downloaded or searched for.

A client's record of a file (its name, size, hashes, whether it was shared and how often it was uploaded) is
evidence of distribution even when the file itself is gone. The parsers here read those records from the
client's files (``model.P2PParser``, one table in ``registry.PARSERS``); the engine matches each record's
hashes against the hash sets and the case keeps them apart from files (a "P2P record of known material" is a
finding of its own kind).
"""
