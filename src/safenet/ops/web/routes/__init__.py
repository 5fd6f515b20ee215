"""The dashboard's routes, one module per part of the operation; each names the field group it needs."""
