"""The lab: a queue of exhibits triaged on a Dask cluster (``safenet lab``)."""
