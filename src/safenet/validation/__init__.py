"""Method validation: the evidence that Safenet's methods give the published answers (``safenet validate``).

A forensic unit must show that each method it relies on has been validated (the Forensic Science Regulator's
Code). The validation pack is a YAML file of requirements (``pack.py``) kept with the answer-keyed data sets it
names (disk images with published answers, the PDQ reference vectors, real thumbnail caches, hash-set samples,
a carving image whose planted files are known). Each requirement names a check (``checks.py``, one table)
that runs Safenet's own code on the data set, end to end where it can (a real triage into a scratch case), and
an expected value taken from the data set's answer key. ``runner.py`` runs the pack and writes the report
(JSON and PDF); ``record.py`` keeps the last run in the installation so that an SFR1 can cite it.
"""
