"""Syntax check of Swift or Kotlin sources with tree-sitter (no compiler on this host).

Usage: check_syntax.py swift|kotlin FILE...   Exits 1 and lists the positions of ERROR or
MISSING nodes if any file does not parse cleanly. Used by tests/tests/bindings_swift.rs for
the generated Swift bindings and for the android/ and ios/ platform sources.
"""

import re
import sys

import tree_sitter


def language(name):
    if name == "swift":
        import tree_sitter_swift as grammar
    elif name == "kotlin":
        import tree_sitter_kotlin as grammar
    else:
        raise SystemExit(f"unknown language {name}")
    return tree_sitter.Language(grammar.language())


# tree-sitter-swift 0.7 cannot parse a compiler-version conditional around an attribute
# (`#if swift(>=5.8)` / `@_documentation(visibility: private)` / `#endif`), which uniffi
# puts before most declarations. Dropping exactly that three-line block leaves the code
# as an older Swift compiler sees it; nothing else is rewritten.
SWIFT_DOC_ATTR = re.compile(
    rb"^[ \t]*#if swift\(>=5\.8\)\n[ \t]*@_documentation\(visibility: private\)\n[ \t]*#endif\n",
    re.M,
)


def problems(node, out):
    if node.is_error or node.is_missing:
        row, col = node.start_point
        kind = "missing" if node.is_missing else "error"
        out.append(f"{row + 1}:{col + 1}: {kind} {node.type}")
        if len(out) > 20:
            return
    if node.has_error:
        for child in node.children:
            problems(child, out)


def main():
    parser = tree_sitter.Parser(language(sys.argv[1]))
    failed = False
    for path in sys.argv[2:]:
        with open(path, "rb") as f:
            source = f.read()
        if sys.argv[1] == "swift":
            source = SWIFT_DOC_ATTR.sub(b"", source)
        tree = parser.parse(source)
        found = []
        problems(tree.root_node, found)
        if found:
            failed = True
            print(f"{path}: does not parse")
            for p in found:
                print(f"  {p}")
        else:
            print(f"{path}: ok")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
