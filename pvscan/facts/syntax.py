"""tree-sitter for kernel C: the parser, and the small questions every walker asks of a node."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tree_sitter import Node, Parser, Tree


@lru_cache(maxsize=1)
def parser() -> Parser:
    import tree_sitter_c
    from tree_sitter import Language, Parser

    return Parser(Language(tree_sitter_c.language()))


def parse_tree(text: bytes) -> Tree:
    return parser().parse(text)


def node_text(node: Node, text: bytes) -> str:
    return text[node.start_byte:node.end_byte].decode("utf-8", "replace")


def declarator_name(node: Node | None) -> str | None:
    while node is not None:
        if node.type in ("identifier", "field_identifier"):
            return node.text.decode() if node.text is not None else None
        inner = node.child_by_field_name("declarator")
        if inner is None:
            for c in node.named_children:
                if c.type in ("identifier", "field_identifier", "pointer_declarator",
                              "function_declarator", "parenthesized_declarator", "array_declarator"):
                    inner = c
                    break
        node = inner
    return None


def innermost_identifier(node: Node | None) -> Node | None:
    while node is not None:
        if node.type in ("identifier", "field_identifier"):
            return node
        inner = node.child_by_field_name("declarator")
        if inner is None:
            inner = next((c for c in node.named_children
                          if c.type in ("identifier", "field_identifier", "pointer_declarator",
                                        "function_declarator", "parenthesized_declarator",
                                        "array_declarator", "abstract_pointer_declarator")), None)
        node = inner
    return None
