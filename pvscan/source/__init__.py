"""Where files come from: a kernel tree as a set of files pvscan may read.

Takes a path (a directory), a git revision (read from the object store,
never checked out), or either one with patches applied in memory; gives a
Source: its version, the candidate files a text search finds, and each
file's bytes through one reader that refuses paths escaping the tree,
binary files and oversized files. Nothing here parses C.
"""
