"""Review: what a patch does to pv_ops, anchored to the patch's own lines.

Takes patches (patch: unified diff or mbox) and a Source; applies them in
memory (apply), builds the inventory on both sides through the one
pipeline, and gives findings: the change kinds (changes/, one module per
PV1nn code) and the ABI findings the patch introduces.
"""
