/**
 * Statuses whose responses have no body (the Fetch standard's "null body status", plus 103): a
 * Response takes none, and `assets.fetch` sends none.
 */
export const NULL_BODY_STATUSES: ReadonlySet<number> = new Set([101, 103, 204, 205, 304]);
