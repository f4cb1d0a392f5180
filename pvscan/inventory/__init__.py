"""The operation inventory: every file's facts in, one frozen Inventory out.

Takes the FileFacts of all candidate files and the backend map; gives the
tables, every op with its signature, convention, guard, call sites,
wrappers and callers, and the implementation (or clear) each backend
gives it. It is built by pure passes in a fixed data order (tables and
ops, then call sites and wrappers, then implementations), each taking and
returning frozen values.
"""
