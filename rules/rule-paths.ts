// Where things are in a rule document: JSON paths for problems, and the walk over `when`.

/** One thing wrong with a rule document, at its JSON path (`when.of[1].metric`; root is ""). */
export type RuleProblem = { path: string; message: string };

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/** `["when", "of", 1, "metric"]` → `when.of[1].metric`; the document root is "". */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`;
    else if (typeof segment === "string" && IDENTIFIER.test(segment)) {
      out += out === "" ? segment : `.${segment}`;
    } else out += `[${JSON.stringify(String(segment))}]`;
  }
  return out;
}

export function formatProblems(problems: readonly RuleProblem[]): string {
  return problems.map((p) => (p.path ? `${p.path}: ${p.message}` : p.message)).join("\n");
}

/** A condition somewhere in a rule's `when` tree, and its JSON path from the document root. */
export type ConditionAt = { node: Record<string, unknown>; path: PropertyKey[] };

/**
 * Every condition in the tree, parents before members. Works on raw documents as well as parsed
 * ones, so reference checks report a typo even when the schema rejected something else.
 */
export function* walkConditions(condition: unknown, path: PropertyKey[] = ["when"]): Generator<ConditionAt> {
  if (!isRecord(condition)) return;
  yield { node: condition, path };
  if (Array.isArray(condition.of)) {
    for (const [i, member] of condition.of.entries()) {
      yield* walkConditions(member, [...path, "of", i]);
    }
  }
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
