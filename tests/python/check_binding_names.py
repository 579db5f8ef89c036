"""Do the Android and iOS platform files call only names the generated bindings declare?

The Android-API Kotlin and the iOS Swift files cannot be compiled here (no Android SDK, no
Swift compiler), so nothing would notice when the core's FFI surface changes under them:
a renamed method, a removed record field, a new enum case name. This checker is the cheap
stand-in for the compiler's name resolution, without types:

1. it collects every name a platform file *uses* (call targets, member names after `.`,
   type references, named-argument labels, enum cases in patterns, Kotlin imports from the
   bindings' package), with tree-sitter;
2. it subtracts the names declared in the checked files themselves and in the project's own
   plain-logic files (`--own`): classes, functions, properties, parameters, enum entries,
   locals. A name after a `.` is subtracted only by declarations reachable that way (not
   by locals, parameters or private members), and when called only by callable ones (not
   by properties or plain enum cases): `agent.checkIn(..)` stays checked beside a
   `private fun checkIn()` or an `enum Step { case checkIn }`. Also subtracted: the names
   a Kotlin file imports explicitly from a package other than the bindings'
   (`import android.content.Context` resolves `Context`); a few keywords the grammars
   parse as identifiers (`this`, `it`, `true`...); and the allow list (`--allow`: the
   platform's and the language's library names the files use);
3. every name left must be declared (non-private) in the generated bindings file.

A platform class that implements one of the bindings' foreign traits (`Signer`,
`DeviceFacts`, `EvidenceProvider`) must declare each of its requirements, and a Kotlin or
Swift `override` counts as a use of the name it overrides: the compiler's "does not
conform" and "overrides nothing" when the core adds or renames a trait method.

Also, for Kotlin: a wildcard import of the bindings' package is an error (it would hide
which names come from the bindings), and every segment of an explicit import from that
package must be declared in the bindings. And a name of the allow list that the bindings
declare is an error: the allow list would hide its removal from the core.

What it cannot see: names are matched without scopes or types, so a member name that both
the bindings and the platform's own classes declare (`status`, `title`...) is accepted
whichever one a use means (on success the checker lists those names); a Swift protocol
method implemented without `override` is checked only through the conformance rule above.
The compiler on a developer's machine remains the last word.

Usage:
  check_binding_names.py --lang kotlin|swift --bindings GENERATED --allow ALLOWLIST
                         [--own FILE...] [--print-unknown] -- FILE...
Exit 0 when every name is known, 1 otherwise (each unknown name is listed with file:line),
2 on a usage or parse error. `--print-unknown` prints the unknown names, one per line and
sorted, and exits 0 (to seed or regenerate an allow list).
"""

import argparse
import os
import sys

import tree_sitter

# check_syntax.py beside this file; no __pycache__ left in the source tree.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_syntax import SWIFT_DOC_ATTR, language, problems  # noqa: E402

# Parsed as identifiers by the grammars but keywords (or compiler-provided) in the language.
KOTLIN_KEYWORDS = {"this", "super", "it", "true", "false", "null", "class", "field", "_"}
SWIFT_KEYWORDS = {"self", "Self", "super", "true", "false", "nil", "_", "init"}

PLATFORM = {"kotlin": "an Android API?", "swift": "an iOS API?"}


def text(src, node):
    return src[node.start_byte : node.end_byte].decode("utf-8", "replace")


def ident(src, node):
    """An identifier's name: `platform` and platform are the same name in both languages."""
    return text(src, node).strip("`")


def children_with_fields(node):
    for i, child in enumerate(node.children):
        yield child, node.field_name_for_child(i)


def modifiers_text(src, node):
    """The declaration's modifier keywords (`private`, `internal`, `public`...)."""
    out = set()
    for child in node.children:
        if child.type == "modifiers":
            for m in child.children:
                out.update(text(src, m).split())
    return out


HIDDEN = {"private", "fileprivate", "internal"}


class Names:
    """What one file declares and uses."""

    def __init__(self):
        self.declared = set()  # every declaration, locals included
        # Declarations reachable as `x.name` (no locals, nothing private), by kind: what can
        # be called (`x.name(..)`: functions, types, enum cases with values) and what can be
        # read (`x.name`: properties, types, enum cases).
        self.members = {"call": set(), "value": set()}
        self.surface = set()  # declarations visible to other modules (for the bindings)
        self.uses = []  # (name, line, None | "call" | "value": after a `.`, called or not)
        self.imports = []  # Kotlin: (dotted name, is_wildcard, alias, line)
        self.package = None  # Kotlin package
        self.protocols = {}  # interface/protocol name -> requirement names
        self.types = {}  # class name -> ((path, line), supertypes, member names)


def member_kinds(decl_type, decl):
    """What a member declaration can be used as (see Names.members)."""
    if decl_type in ("function_declaration", "protocol_function_declaration"):
        return ("call",)
    if decl_type in ("class_declaration", "object_declaration", "protocol_declaration", "companion_object", "type_alias", "typealias_declaration"):
        return ("call", "value")
    if decl_type == "enum_entry" and any(c.type in ("enum_type_parameters", "value_arguments") for c in decl.children):
        return ("call", "value")
    return ("value",)


def use_kind(member_access_node):
    """For `x.name`: "call" when it is called (`x.name(..)`), else "value"."""
    parent = member_access_node.parent
    if parent is not None and parent.type == "call_expression" and parent.children[0] == member_access_node:
        return "call"
    return "value"


# --- Kotlin (tree-sitter-kotlin 1.x: every name is an `identifier` node) -----------------

KOTLIN_DECL_FIELD_NAME = {"class_declaration", "object_declaration", "companion_object", "function_declaration"}
KOTLIN_DECL_CHILD = {
    "class_parameter",
    "parameter",
    "variable_declaration",
    "enum_entry",
    "type_parameter",
    "catch_block",
}
KOTLIN_DECLS = KOTLIN_DECL_FIELD_NAME | {"type_alias", "property_declaration", "enum_entry", "class_parameter"}
KOTLIN_BODIES = {"function_body", "lambda_literal", "getter", "setter", "anonymous_initializer", "block"}


def kotlin_walk(src, node, names, hidden=False, in_body=False, overriding=False):
    if node.type == "package_header":
        names.package = text(src, node).split(None, 1)[-1].strip().rstrip(";")
        return
    if node.type == "import":
        qualified = None
        alias = None
        for child in node.children:
            if child.type == "qualified_identifier":
                qualified = text(src, child)
            elif child.type == "identifier":
                alias = text(src, child)
        wildcard = text(src, node).replace(" ", "").rstrip(";").endswith(".*")
        if qualified:
            names.imports.append((qualified, wildcard, alias, node.start_point[0] + 1))
        return
    if node.type in KOTLIN_DECLS:
        modifiers = modifiers_text(src, node)
        hidden = hidden or bool(modifiers & HIDDEN)
        # `override fun publicKey()` names the supertype's member (the bindings' `Signer`,
        # Android's `onCreate`): a use, which must resolve like any other.
        overriding = "override" in modifiers
    elif node.type != "variable_declaration":
        overriding = False
    for child, field in children_with_fields(node):
        if child.type == "identifier":
            name = ident(src, child)
            is_decl = (node.type in KOTLIN_DECL_FIELD_NAME and field == "name") or (
                node.type == "type_alias" and field == "type"
            ) or node.type in KOTLIN_DECL_CHILD
            member_use = None
            # `this.name` is a member of these files, private ones too: a bare use.
            if node.type == "navigation_expression" and child != node.children[0] and node.children[0].type != "this_expression":
                member_use = use_kind(node)
            if is_decl and overriding:
                kind = "call" if node.type == "function_declaration" else "value"
                names.uses.append((name, child.start_point[0] + 1, kind))
            elif is_decl:
                names.declared.add(name)
                decl = node.parent if node.type == "variable_declaration" else node
                # Only the declaration's own `private` (a private class's members are reached by `.`).
                if not in_body and "private" not in modifiers_text(src, decl):
                    for kind in member_kinds(decl.type, decl):
                        names.members[kind].add(name)
                # A type parameter (`T`, `R`) is no name another file can call.
                if not hidden and not in_body and node.type != "type_parameter":
                    names.surface.add(name)
            else:
                names.uses.append((name, child.start_point[0] + 1, member_use))
        else:
            # Parameters of a function are part of its signature, not of its body.
            kotlin_walk(src, child, names, hidden, in_body or child.type in KOTLIN_BODIES, overriding)


# --- Swift (tree-sitter-swift 0.7) ------------------------------------------------------

SWIFT_TYPE_DECLS = {"class_declaration", "protocol_declaration", "typealias_declaration", "associatedtype_declaration"}
SWIFT_FUNC_DECLS = {"function_declaration", "protocol_function_declaration"}
SWIFT_PARAMS = {"parameter", "lambda_parameter"}
SWIFT_DECLS = SWIFT_TYPE_DECLS | SWIFT_FUNC_DECLS | {
    "property_declaration",
    "protocol_property_declaration",
    "init_declaration",
    "subscript_declaration",
}
SWIFT_BODIES = {"function_body", "lambda_literal", "computed_property", "statements"}


def binds(node):
    return any(c.type == "value_binding_pattern" for c in node.children)


def swift_walk(src, node, names, hidden=False, in_body=False, binding=False, overriding=False):
    if node.type == "import_declaration":
        return
    if node.type in SWIFT_DECLS:
        modifiers = modifiers_text(src, node)
        hidden = hidden or bool(modifiers & HIDDEN)
        # `override func viewDidLoad()` names the superclass's member: a use. (A protocol
        # requirement such as `Signer.sign` is met without `override`: not seen.)
        overriding = "override" in modifiers
    elif node.type != "pattern":
        overriding = False
    # Names in a pattern are bound (declared) under `let`/`var` (`let (n, unit) = ...`,
    # `if case let .a(q) = z`, `catch let ApiError.Platform(detail)`) and in a `for` item;
    # otherwise a lone name in a pattern is an enum case (`case .good:`), a use.
    if node.type in ("statements", "lambda_literal", "function_body", "computed_property", "switch_entry", "catch_block"):
        binding = False
    if binds(node):
        binding = True
    named = [c for c in node.children if c.is_named]
    for child, field in children_with_fields(node):
        if child.type in ("simple_identifier", "type_identifier"):
            name = ident(src, child)
            is_decl = (
                (node.type in SWIFT_TYPE_DECLS and field == "name" and child.type == "type_identifier")
                or (node.type in SWIFT_FUNC_DECLS and field == "name")
                or field == "bound_identifier"
                or (node.type in SWIFT_PARAMS and field in ("name", "external_name"))
                or (node.type == "enum_entry" and field == "name")
                or node.type == "enum_type_parameters"
                or node.type == "type_parameter"
                # `case .revoked(let info)` binds through bound_identifier; in
                # `catch let ApiError.Platform(detail)` the `let` binds a lone name.
                or (node.type == "pattern" and binding and len(named) == 1)
            )
            member_use = None
            target = node.parent.child_by_field_name("target") if node.parent is not None else None
            if field == "suffix" and target is not None and target.type != "self_expression":
                member_use = use_kind(node.parent)  # navigation_suffix in navigation_expression
            elif node.type == "prefix_expression" and node.children[0].type == ".":
                member_use = use_kind(node)  # `.checkIn` (implicit member), not `!done`
            if is_decl and overriding and field in ("name", "bound_identifier"):
                kind = "call" if node.type in SWIFT_FUNC_DECLS else "value"
                names.uses.append((name, child.start_point[0] + 1, kind))
            elif is_decl:
                names.declared.add(name)
                decl = node.parent if node.type == "pattern" and node.parent is not None else node
                if not in_body and not (modifiers_text(src, decl) & {"private", "fileprivate"}):
                    for kind in member_kinds(decl.type, decl):
                        names.members[kind].add(name)
                if not hidden and not in_body and node.type != "type_parameter" and name != "_":
                    names.surface.add(name)
            elif not name.startswith("$"):
                names.uses.append((name, child.start_point[0] + 1, member_use))
        else:
            swift_walk(
                src,
                child,
                names,
                hidden,
                in_body or child.type in SWIFT_BODIES,
                binding or (node.type == "for_statement" and field == "item"),
                overriding,
            )


# --- conformance to the bindings' foreign traits --------------------------------------------
#
# A platform class implementing a bindings protocol (`Signer`, `DeviceFacts`,
# `EvidenceProvider`) must declare every requirement: when the core adds or renames a
# method of a foreign trait, the compiler would say "does not conform"; so does this.


def last_type_name(src, node):
    """`Foo` of a user_type `a.b.Foo` (or of a bare identifier)."""
    names = [c for c in node.children if c.type in ("identifier", "type_identifier")]
    return ident(src, names[-1]) if names else ident(src, node)


def kotlin_protocols(src, node, out):
    """Kotlin interfaces of the bindings: name -> names of their abstract members."""
    if node.type == "class_declaration" and any(c.type == "interface" for c in node.children):
        name = node.child_by_field_name("name")
        body = next((c for c in node.children if c.type == "class_body"), None)
        if name is not None and body is not None and not (modifiers_text(src, node) & HIDDEN):
            reqs = set()
            for m in body.children:
                if m.type == "function_declaration" and not any(c.type == "function_body" for c in m.children):
                    reqs.add(ident(src, m.child_by_field_name("name")))
            out[ident(src, name)] = reqs
    for c in node.children:
        kotlin_protocols(src, c, out)


def swift_protocols(src, node, out):
    """Swift protocols of the bindings: name -> names of their requirements."""
    if node.type == "protocol_declaration" and not (modifiers_text(src, node) & HIDDEN):
        name = node.child_by_field_name("name")
        body = node.child_by_field_name("body")
        if name is not None and body is not None:
            reqs = set()
            for m in body.children:
                if m.type == "protocol_function_declaration":
                    reqs.add(ident(src, m.child_by_field_name("name")))
                elif m.type == "protocol_property_declaration":
                    reqs.update(ident(src, b) for b in bound_names(m))
            out[ident(src, name)] = reqs
    for c in node.children:
        swift_protocols(src, c, out)


def bound_names(node):
    found = []
    for i, c in enumerate(node.children):
        if node.field_name_for_child(i) == "bound_identifier":
            found.append(c)
        elif c.type == "pattern":
            found.extend(bound_names(c))
    return found


def kotlin_types(src, node, path, out):
    """Kotlin classes and objects: key -> (line, supertypes, member names)."""
    if node.type in ("class_declaration", "object_declaration", "object_literal"):
        name = node.child_by_field_name("name")
        key = ident(src, name) if name is not None else f"object at {path}:{node.start_point[0] + 1}"
        supers, members = set(), set()
        for c in node.children:
            if c.type == "delegation_specifiers":
                for spec in c.children:
                    # `Signer by other` delegates the members: nothing to check.
                    plain = [t for t in spec.children if t.type == "user_type"]
                    if spec.type == "delegation_specifier" and plain:
                        supers.add(last_type_name(src, plain[0]))
            elif c.type == "primary_constructor":
                for param in c.children[0].children if c.children else []:
                    if param.type == "class_parameter":
                        members.update(ident(src, i) for i in param.children if i.type == "identifier")
            elif c.type == "class_body":
                for m in c.children:
                    if m.type == "function_declaration":
                        members.add(ident(src, m.child_by_field_name("name")))
                    elif m.type == "property_declaration":
                        for v in m.children:
                            if v.type == "variable_declaration":
                                members.update(ident(src, i) for i in v.children if i.type == "identifier")
        line0, s0, m0 = out.get(key, ((path, node.start_point[0] + 1), set(), set()))
        out[key] = (line0, s0 | supers, m0 | members)
    for c in node.children:
        kotlin_types(src, c, path, out)


def swift_types(src, node, path, out):
    """Swift classes, structs, enums and extensions: type name -> (line, supertypes, members)."""
    if node.type == "class_declaration":
        name = node.child_by_field_name("name")
        if name is not None:
            key = last_type_name(src, name) if name.type == "user_type" else ident(src, name)
            supers, members = set(), set()
            for i, c in enumerate(node.children):
                if c.type == "inheritance_specifier":
                    for t in c.children:
                        if t.type == "user_type":
                            supers.add(last_type_name(src, t))
                elif node.field_name_for_child(i) == "body":
                    for m in c.children:
                        if m.type == "function_declaration":
                            members.add(ident(src, m.child_by_field_name("name")))
                        elif m.type == "property_declaration":
                            members.update(ident(src, b) for b in bound_names(m))
            line0, s0, m0 = out.get(key, ((path, node.start_point[0] + 1), set(), set()))
            out[key] = (line0, s0 | supers, m0 | members)
    for c in node.children:
        swift_types(src, c, path, out)


def collect(parser, lang, path):
    with open(path, "rb") as f:
        src = f.read()
    if lang == "swift":
        src = SWIFT_DOC_ATTR.sub(b"", src)
    tree = parser.parse(src)
    # The same test as check_syntax.py (which tolerates the grammars' zero-width quirks).
    found = []
    problems(tree.root_node, found)
    if found:
        print(f"{path}: does not parse: {', '.join(found[:3])}", file=sys.stderr)
        sys.exit(2)
    names = Names()
    if lang == "kotlin":
        kotlin_walk(src, tree.root_node, names)
        kotlin_protocols(src, tree.root_node, names.protocols)
        kotlin_types(src, tree.root_node, path, names.types)
    else:
        swift_walk(src, tree.root_node, names)
        swift_protocols(src, tree.root_node, names.protocols)
        swift_types(src, tree.root_node, path, names.types)
    return names


def read_allow(path):
    allow = set()
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if line:
                allow.add(line)
    return allow


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lang", choices=["kotlin", "swift"], required=True)
    ap.add_argument("--bindings", required=True, help="the generated Kotlin or Swift bindings file")
    ap.add_argument("--allow", required=True, help="allow list: one name a line, # comments")
    ap.add_argument("--own", nargs="*", default=[], help="the project's own logic files (declarations only)")
    ap.add_argument("--print-unknown", action="store_true", help="print the unknown names and exit 0")
    ap.add_argument("files", nargs="*")
    args = ap.parse_args()

    parser = tree_sitter.Parser(language(args.lang))
    bindings = collect(parser, args.lang, args.bindings)
    surface = bindings.surface
    allow = read_allow(args.allow)
    keywords = KOTLIN_KEYWORDS if args.lang == "kotlin" else SWIFT_KEYWORDS

    checked = [(p, collect(parser, args.lang, p)) for p in args.files]
    own = [collect(parser, args.lang, p) for p in args.own]
    declared = set()
    members = {"call": set(), "value": set()}
    own_packages = set()
    for n in own + [n for _, n in checked]:
        declared |= n.declared
        for kind in members:
            members[kind] |= n.members[kind]
        if n.package:
            own_packages.add(n.package)
    package = bindings.package or ""

    errors = []  # (path, line, message)
    unknown = set()
    shadowed = set()
    for path, n in checked:
        resolved = set()
        for dotted, wildcard, alias, line in n.imports:
            if alias:
                resolved.add(alias)
            if not (package and (dotted == package or dotted.startswith(package + "."))):
                if not wildcard:
                    resolved.add(alias or dotted.rsplit(".", 1)[-1])
                continue
            rest = dotted[len(package) + 1 :]
            if not rest:
                errors.append((path, line, f"wildcard import `{package}.*`: import each binding name explicitly"))
                continue
            if any(dotted == p or dotted.startswith(p + ".") for p in own_packages if p != package):
                continue
            for segment in rest.split("."):
                if segment not in surface:
                    unknown.add(segment)
                    errors.append(
                        (path, line, f"`import {dotted}`: `{segment}` is not in the generated bindings (the core's surface changed?)")
                    )
                    break
        reported = set()
        for name, line, member_use in n.uses:
            # `x.name` cannot mean a local or a private member of these files (they are
            # reached bare), and `x.name(..)` no property or plain enum case: so
            # `agent.checkIn(..)` is checked even where a file has its own
            # `private fun checkIn()` or `enum Step { case checkIn }`.
            own_decl = name in (members[member_use] if member_use else declared)
            if own_decl and name in surface:
                shadowed.add(name)
            if name in keywords or own_decl or name in resolved or name in allow or name in surface:
                continue
            unknown.add(name)
            if name in reported:
                continue
            reported.add(name)
            errors.append(
                (
                    path,
                    line,
                    f"`{name}` is not in the generated bindings (the core's surface changed?) "
                    f"nor in {args.allow} ({PLATFORM[args.lang]})",
                )
            )

    # Conformances: a Swift extension may add the members in another file, so merge by name.
    types = {}
    for n in own + [n for _, n in checked]:
        for key, (where, supers, members) in n.types.items():
            w0, s0, m0 = types.get(key, (where, set(), set()))
            types[key] = (w0, s0 | supers, m0 | members)
    for key, ((path, line), supers, members) in sorted(types.items()):
        for proto in sorted(supers):
            for req in sorted(bindings.protocols.get(proto, set()) - members):
                unknown.add(req)
                errors.append(
                    (path, line, f"`{key}` implements the bindings' `{proto}` but declares no `{req}` "
                     "(the core's trait changed?)")
                )

    if args.print_unknown:
        for name in sorted(unknown):
            print(name)
        return 0

    for name in sorted(allow & surface):
        errors.append(
            (args.allow, 0, f"`{name}` is declared in the generated bindings: take it out of the allow list, "
             "or its removal from the core would go unnoticed")
        )
    for path, line, message in errors:
        print(f"{path}:{line}: {message}" if line else f"{path}: {message}")
    if errors:
        print(f"{len(errors)} problem(s) in {len(checked)} {args.lang} file(s)", file=sys.stderr)
        return 1
    print(f"ok: {len(checked)} {args.lang} file(s) use only names the bindings or {args.allow} declare")
    if shadowed:
        print(
            "note: declared both by the bindings and by these files, so checked by name only: "
            + ", ".join(sorted(shadowed))
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
