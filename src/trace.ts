/** Trace context of a request, in W3C form (32 + 16 lowercase hex digits). */
export interface TraceContext {
  traceId: string;
  spanId: string;
  sampled: boolean;
}

const TRACEPARENT_RE = /^([\da-f]{2})-([\da-f]{32})-([\da-f]{16})-([\da-f]{2})(?:-|$)/;
const CLOUD_TRACE_RE = /^([\da-fA-F]{32})(?:\/(\d{1,20}))?(?:;o=([01]))?$/;
const ZERO_TRACE = "0".repeat(32);
const ZERO_SPAN = "0".repeat(16);
const MAX_UINT64 = (1n << 64n) - 1n;

/** Parses a W3C `traceparent` header; undefined when absent or malformed. */
export function parseTraceparent(value: string | null | undefined): TraceContext | undefined {
  if (!value) return undefined;
  const match = TRACEPARENT_RE.exec(value.trim().toLowerCase());
  if (!match) return undefined;
  const [, version, traceId, spanId, flags] = match as unknown as [string, string, string, string, string];
  if (version === "ff" || traceId === ZERO_TRACE || spanId === ZERO_SPAN) return undefined;
  // Version 00 must be exactly 55 characters; later versions may append fields.
  if (version === "00" && value.trim().length !== 55) return undefined;
  return { traceId, spanId, sampled: (Number.parseInt(flags, 16) & 1) === 1 };
}

/**
 * Parses Google's `X-Cloud-Trace-Context: TRACE_ID/SPAN_ID;o=OPTIONS`, where SPAN_ID is an
 * unsigned 64-bit decimal; the span id is returned as 16 hex digits like W3C's.
 */
export function parseCloudTraceContext(value: string | null | undefined): TraceContext | undefined {
  if (!value) return undefined;
  const match = CLOUD_TRACE_RE.exec(value.trim());
  if (!match) return undefined;
  const traceId = match[1]!.toLowerCase();
  if (traceId === ZERO_TRACE) return undefined;
  let spanId = ZERO_SPAN;
  if (match[2] !== undefined) {
    const span = BigInt(match[2]);
    if (span > MAX_UINT64) return undefined;
    spanId = span.toString(16).padStart(16, "0");
  }
  return { traceId, spanId, sampled: match[3] === "1" };
}

/** Trace context of a request: `traceparent` first, then `X-Cloud-Trace-Context`. */
export function traceFromHeaders(headers: Headers): TraceContext | undefined {
  return parseTraceparent(headers.get("traceparent")) ?? parseCloudTraceContext(headers.get("x-cloud-trace-context"));
}
