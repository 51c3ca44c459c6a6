// Types of cases.mjs, for the TypeScript test that runs it (test/integration/conformance.test.ts).

/** How a case ended: its value, or the name of the error it threw or rejected with. */
export interface Outcome {
  value?: unknown;
  error?: string;
}

/** One case of the class-level suite. */
export interface ConformanceCase {
  id: string;
  run(R: typeof Response, tools: { NativeResponse: typeof Response }): unknown;
  /** What the Fetch standard requires. */
  expected: Outcome;
  /** What a runtime's native Response does instead ("node" stands for every Node). */
  deviations?: Record<string, Outcome>;
}

/** One response sent by serve() and read back by fetch(). */
export interface SentCase {
  id: string;
  respond(R: typeof Response): Response | Promise<Response>;
  expected: {
    status: number;
    statusText: string;
    contentType: string | null;
    headers: Record<string, string>;
    body: string;
  };
}

export const CASES: ConformanceCase[];
export const SENT_CASES: SentCase[];
