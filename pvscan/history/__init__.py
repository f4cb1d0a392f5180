"""History: the inventory across revisions, and what each ABI could not express.

Takes revisions (git revisions of a repository, or unpacked trees in
order); scans each as an independent task (in-process, on local cores, or
on a Dask cluster), links each op's identity across revisions and
generations (lineage), and gives per-op events and per-ABI pairs of
consecutive revisions with the interface changes the ABI could not carry.
"""
