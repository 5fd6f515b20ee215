"""Phones and tablets as evidence: live devices (ADB, AFC), backups (iTunes/Finder, Android ``.ab``) and
extractions made by other tools (full-file-system archives, Cellebrite UFDR).

Every phone source is an ordinary back-end (``evidence.registry``): its items are hashed, matched, carved,
graded and reported like any other. Its locators start ``SOURCE › DEVICE › PATH``: the source the examiner
gave, the device with the acquisition method, and the path on the phone.
"""
