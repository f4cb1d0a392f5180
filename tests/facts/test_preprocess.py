"""Directive and annotation blanking: offsets hold, guards follow the #if nesting."""

from pvscan.facts.preprocess import guard_expression, preprocess


def lines_of(pre):
    return pre.text.decode().split("\n")


def test_blanking_keeps_every_offset_and_line():
    src = b"#ifdef A\nint x __initconst;\n#endif\n"
    pre = preprocess(src)
    assert len(pre.text) == len(src)
    assert pre.text.count(b"\n") == src.count(b"\n")
    assert lines_of(pre)[1] == "int x            ;"


def test_guard_of_ifdef_else_and_elif():
    src = b"#ifdef A\na\n#elif B > 2\nb\n#else\nc\n#endif\nd\n"
    pre = preprocess(src)
    assert pre.guard_at(1) == ("defined(A)",)
    assert pre.guard_at(3) == ("!defined(A) && B > 2",)
    assert pre.guard_at(5) == ("!defined(A) && !(B > 2)",)
    assert pre.guard_at(7) == ()


def test_ifndef_negates_and_nesting_conjoins():
    src = b"#ifndef X\n#if defined Y && Z\nv\n#endif\n#endif\n"
    pre = preprocess(src)
    assert guard_expression(pre.guard_at(2)) == "!defined(X) && (defined(Y) && Z)"


def test_include_guard_and_assembly_tests_are_not_config_guards():
    src = b"/* c */\n#ifndef _H\n#define _H\n#ifndef __ASSEMBLY__\nint v;\n#endif\n#endif\n"
    pre = preprocess(src)
    assert pre.guard_at(4) == ()


def test_if_zero_block_is_blanked_whole():
    src = b"#if 0\nvoid (*never)(void);\n#else\nlive;\n#endif\n"
    pre = preprocess(src)
    assert b"never" not in pre.text
    assert b"live" in pre.text


def test_directive_inside_block_comment_is_not_a_directive():
    src = b"/*\n#if 0\n*/\nint a;\n"
    pre = preprocess(src)
    assert b"int a;" in pre.text
    assert pre.guard_at(3) == ()


def test_comment_opened_on_a_directive_line_is_blanked_with_it():
    src = b"#endif /* two\n lines */\nint a;\n"
    pre = preprocess(src)
    assert b"lines" not in pre.text
    assert b"int a;" in pre.text


def test_annotation_with_arguments_is_blanked_with_them():
    src = b"struct s { int a; } __aligned(8) __attribute__((packed));\n"
    pre = preprocess(src)
    assert pre.text.decode().rstrip().endswith("}" + " " * 40 + ";") or b"aligned" not in pre.text
    assert b"packed" not in pre.text


def test_define_bodies_are_kept_aside_with_their_line():
    src = b"\n#define clts() \\\n\tparavirt_ops.clts()\n"
    pre = preprocess(src)
    (d,) = pre.defines
    assert d.name == "clts" and d.params == () and d.line == 2
    assert "paravirt_ops.clts()" in d.body


def test_unbalanced_endif_is_reported_not_fatal():
    pre = preprocess(b"#endif\nint a;\n")
    assert pre.problems == ((1, "#endif without #if"),)
