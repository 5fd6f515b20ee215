"""The operation around the examination (issue 16): intelligence leads, warrants and visits, on-scene results,
people and outcomes, safeguarding, and the public figures.

Everything here works on the unit's operation database (``ops.store.OpsStore``), never on a case: a visit
stores only the link to a case exhibit, and the on-scene verdict and the lead-to-evidence corroboration are
read from the case each time (the case is the source of truth). Every service function takes the acting
user (``ops.access.Actor``) and checks the field group it touches before it reads or writes.
"""
