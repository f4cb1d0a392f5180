"""Reading kernel C into facts: one file's bytes in, one FileFacts out.

Takes the bytes of one candidate file; gives frozen, sorted facts about
what that file says (struct definitions, table globals, initializers,
assignments, PVOP_* uses, references, macros), independent of every other
file, so they can be cached by content and computed on any worker. The
text is first blanked of what defeats tree-sitter (preprocess), then
parsed (parse). ctext holds the kernel-C text helpers and syntax the
tree-sitter ones; the later stages use both.
"""
