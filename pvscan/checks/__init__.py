"""Checks: the inventory against declared hypercall ABIs, and the glue behind them.

Takes an Inventory and ABIs (pvscan.abi), optionally the backends' glue
traced to hypercalls (glue) and libclang type sizes (precise); gives
findings from the rules (rules/, one module per PV0nn code) and a
coverage table per ABI. derive writes an ABI skeleton from traced glue.
"""
