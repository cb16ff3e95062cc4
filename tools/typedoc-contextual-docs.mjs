// TypeDoc plugin: an undocumented property of an object literal inherits the documentation of
// the property it is checked against, as an editor's hover does. That is:
// - the literal's contextual type (a `satisfies` clause, a type annotation, an enclosing
//   literal's expected type), e.g. the `{ offset, size }` entries of KVM_RUN_LAYOUT take the docs
//   of KvmRunField.offset / .size;
// - for the initializer of a class property without a type annotation, the same-named property of
//   an interface the class implements, e.g. a leaf plugin's `meta = { name, leaf, exit } as const`
//   takes the docs of LeafMeta.name / .leaf / .exit (and LeafExit for the nested `exit`).
// A property that has its own comment keeps it. Loaded by typedoc.json ("plugin").
import ts from 'typescript';
import { Converter, ReflectionKind } from 'typedoc';

/** Climbs over `as const`, `satisfies` and parentheses around an expression. */
function outermost(node) {
  let n = node;
  while (ts.isAsExpression(n.parent) || ts.isSatisfiesExpression(n.parent) || ts.isParenthesizedExpression(n.parent)) n = n.parent;
  return n;
}

/** The type an object literal is expected to have, or undefined. */
function expectedType(checker, literal) {
  const contextual = checker.getContextualType(literal);
  if (contextual !== undefined) return contextual;
  const parent = outermost(literal).parent;
  if (ts.isPropertyAssignment(parent) && ts.isObjectLiteralExpression(parent.parent)) {
    const outer = expectedType(checker, parent.parent);
    const prop = outer === undefined ? undefined : checker.getPropertyOfType(outer, parent.name.getText().replace(/^['"]|['"]$/g, ''));
    return prop === undefined ? undefined : checker.getNonNullableType(checker.getTypeOfSymbol(prop));
  }
  if (ts.isPropertyDeclaration(parent) && parent.type === undefined && ts.isClassLike(parent.parent)) {
    const name = parent.name.getText();
    for (const clause of parent.parent.heritageClauses ?? []) {
      for (const base of clause.types) {
        const prop = checker.getPropertyOfType(checker.getTypeAtLocation(base), name);
        if (prop !== undefined) return checker.getNonNullableType(checker.getTypeOfSymbol(prop));
      }
    }
  }
  return undefined;
}

/** @param {import('typedoc').Application} app */
export function load(app) {
  app.converter.on(Converter.EVENT_CREATE_DECLARATION, (context, reflection) => {
    if (reflection.comment !== undefined || !reflection.kindOf(ReflectionKind.Property)) return;
    const symbol = context.getSymbolFromReflection(reflection);
    const decl = symbol?.valueDeclaration;
    if (decl === undefined || !ts.isPropertyAssignment(decl) || !ts.isObjectLiteralExpression(decl.parent)) return;
    const checker = context.checker;
    const expected = expectedType(checker, decl.parent);
    const source = expected === undefined ? undefined : checker.getPropertyOfType(expected, symbol.name);
    if (source === undefined || source === symbol) return;
    const comment = context.getComment(source, ReflectionKind.Property);
    if (comment !== undefined) reflection.comment = comment;
  });
}
