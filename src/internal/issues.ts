/**
 * valibot's first issue as one line, for the errors that name what was wrong in a payload:
 * `path.to.field: message`, or the message alone for the whole value.
 *
 * @module
 */
import * as v from "valibot";

/** The first issue's dotted path (undefined for the whole value) and message. */
export function firstIssue(issues: readonly v.BaseIssue<unknown>[]): { path: string | undefined; message: string } {
  const issue = issues[0]!;
  return { path: v.getDotPath(issue) ?? undefined, message: issue.message };
}

/** The first issue as `path: message` (the message alone for the whole value). */
export function issueLine(issues: readonly v.BaseIssue<unknown>[]): string {
  const { path, message } = firstIssue(issues);
  return path ? `${path}: ${message}` : message;
}
