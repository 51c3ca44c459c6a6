// The console's async context variable (serve/async-context.ts) under Node, with stand-ins for
// Deno's internal core: it is used only when it behaves, and AsyncLocalStorage is used otherwise.
// Real Deno (and its async propagation) is tested in test/integration/console.test.ts.
import { afterEach, describe, expect, it } from "vitest";
import { createAsyncContextVariable } from "../../src/serve/async-context.ts";

const INTERNAL = Symbol("Deno.internal");

/** Puts a `Deno` global whose internal core has `core`'s functions; undone after each test. */
function standInDeno(core: Record<string, unknown>): void {
  (globalThis as Record<string, unknown>).Deno = { internal: INTERNAL, [INTERNAL]: { core } };
}

/** A core that keeps the mapping in a variable, as V8 keeps it for the running code. */
function workingCore(): { getAsyncContext(): object | undefined; setAsyncContext(mapping: object | undefined): void } {
  let mapping: object | undefined;
  return {
    getAsyncContext: () => mapping,
    setAsyncContext: (next) => {
      mapping = next;
    },
  };
}

afterEach(() => {
  delete (globalThis as Record<string, unknown>).Deno;
});

describe("createAsyncContextVariable", () => {
  it("is AsyncLocalStorage off Deno, and follows awaits there", async () => {
    const variable = createAsyncContextVariable<string>();
    expect(variable.kind).toBe("async-local-storage");
    const seen = await variable.run("a", async () => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      return variable.get();
    });
    expect(seen).toBe("a");
    expect(variable.get()).toBeUndefined();
  });

  it("uses a core that behaves, keeps the mapping's other keys and restores it after a throw", () => {
    const core = workingCore();
    standInDeno(core);
    const variable = createAsyncContextVariable<string>();
    expect(variable.kind).toBe("deno-core");
    // Another variable's key in the mapping (Deno's own are numbered) is kept inside the run.
    const outer = { 0: "theirs" };
    core.setAsyncContext(outer);
    variable.run("ours", () => {
      expect(variable.get()).toBe("ours");
      expect(core.getAsyncContext()).toMatchObject({ 0: "theirs" });
    });
    expect(core.getAsyncContext()).toBe(outer);
    expect(() =>
      variable.run("ours", () => {
        throw new Error("handler failed");
      }),
    ).toThrow("handler failed");
    expect(core.getAsyncContext()).toBe(outer);
    expect(variable.get()).toBeUndefined();
  });

  const misbehaving: [string, Record<string, unknown>][] = [
    ["ignores what it is given", { getAsyncContext: () => undefined, setAsyncContext: () => {} }],
    [
      "throws",
      {
        getAsyncContext: () => {
          throw new Error("gone");
        },
        setAsyncContext: () => {},
      },
    ],
    ["lacks a function", { getAsyncContext: () => undefined }],
  ];
  it.each(misbehaving)("falls back to AsyncLocalStorage when the core %s", (_, core) => {
    standInDeno(core);
    const variable = createAsyncContextVariable<string>();
    expect(variable.kind).toBe("async-local-storage");
    expect(variable.run("a", () => variable.get())).toBe("a");
  });
});
