import { readFileSync } from "node:fs";
import * as v from "valibot";
import { describe, expect, it } from "vitest";
import { BINDING_CLIENTS } from "../../src/bindings/clients.ts";
import { DescribeResultSchema } from "../../src/bindings/describe.ts";
import { BINDING_HOSTS } from "../../src/bindings/handlers.ts";
import {
  BINDING_KINDS,
  BINDINGS,
  detectBindingKind,
  OBJECT_BINDING_KINDS,
  READ_COMMANDS,
  RESERVED_NAMESPACES,
} from "../../src/bindings/registry.ts";
import { COMMAND_ERROR_CODES } from "../../src/protocol/errors.ts";
import {
  counterObject,
  echoService,
  MemoryDurableObjectNamespace,
  MemoryService,
  memoryBindings,
} from "../fixtures/bindings/index.ts";

const PROTOCOL_DOC = readFileSync(new URL("../../docs/protocol.md", import.meta.url), "utf8");

describe("the binding registry", () => {
  it("gives every kind a host half with a handler for each of its commands, and nothing else", () => {
    for (const descriptor of BINDINGS) {
      const host = BINDING_HOSTS[descriptor.kind];
      expect(host.descriptor).toBe(descriptor);
      expect(Object.keys(host.handlers).sort()).toEqual(Object.keys(descriptor.commands).sort());
    }
    expect(Object.keys(BINDING_HOSTS).sort()).toEqual([...BINDING_KINDS].sort());
  });

  it("gives every object kind a client class", () => {
    expect(Object.keys(BINDING_CLIENTS).sort()).toEqual([...OBJECT_BINDING_KINDS].sort());
    for (const kind of OBJECT_BINDING_KINDS) expect(typeof BINDING_CLIENTS[kind].Binding).toBe("function");
  });

  it("derives the read commands from the descriptors", () => {
    expect([...READ_COMMANDS].sort()).toEqual(
      [
        "host.ping",
        "host.describe",
        "host.keepalive",
        "kv.get",
        "kv.getWithMetadata",
        "kv.list",
        "r2.get",
        "r2.head",
        "r2.list",
        "assets.fetch",
        "durable_object.newUniqueIds",
        "env.get",
      ].sort(),
    );
  });

  it("reserves the namespace of every built-in command", () => {
    expect([...RESERVED_NAMESPACES].sort()).toEqual([
      "assets",
      "d1",
      "durable_object",
      "env",
      "host",
      "kv",
      "queue",
      "r2",
      "service",
    ]);
  });

  it("detects each kind from a binding object's methods, the most specific kind first", () => {
    const env = memoryBindings();
    expect(detectBindingKind(env.CACHE)).toBe("kv");
    expect(detectBindingKind(env.DB)).toBe("d1");
    expect(detectBindingKind(env.JOBS)).toBe("queue");
    expect(detectBindingKind(env.FILES)).toBe("r2");
    expect(detectBindingKind(env.ASSETS)).toBe("assets");
    expect(detectBindingKind({ fetch() {} })).toBe("assets");
    expect(detectBindingKind(new MemoryService(echoService))).toBe("service");
    expect(detectBindingKind(new MemoryDurableObjectNamespace(counterObject))).toBe("durable_object");
    // workerd's Fetchers and RPC stubs answer every property with a function: only the methods
    // they really have count, so a service binding is a service binding and a bare stub nothing.
    const stub = new Proxy({}, { get: () => () => undefined });
    expect(detectBindingKind(stub)).toBeUndefined();
    class Fetcher {
      fetch() {}
      connect() {}
    }
    const wildcardFetcher = new Proxy(new Fetcher(), {
      get: (target, name) => (name in target ? Reflect.get(target, name) : () => undefined),
    });
    expect(detectBindingKind(wildcardFetcher)).toBe("service");
    expect(detectBindingKind("text")).toBeUndefined();
    expect(detectBindingKind(null)).toBeUndefined();
    expect(detectBindingKind({})).toBeUndefined();
  });
});

describe("docs/protocol.md follows the registry", () => {
  it("documents every built-in command", () => {
    const documented = new Set(
      [...PROTOCOL_DOC.matchAll(/`((?:host|kv|d1|queue|r2|assets|service|durable_object|env)\.[A-Za-z]+)`/g)].map(
        (m) => m[1],
      ),
    );
    const missing = BINDINGS.flatMap((binding) => Object.keys(binding.commands)).filter(
      (name) => !documented.has(name),
    );
    expect(missing).toEqual([]);
  });

  it("defines every command of a kind in a section of its own under 7", () => {
    const sections = PROTOCOL_DOC.split(/^### /m).filter((section) => /^7\.\d+ /.test(section));
    for (const binding of BINDINGS) {
      for (const command of Object.keys(binding.commands)) {
        const home = sections.filter((section) => section.includes(`**\`${command}\`**`));
        expect(home, command).toHaveLength(1);
      }
    }
    const titles = sections.map((section) => section.slice(0, section.indexOf("\n")));
    expect(titles).toEqual(expect.arrayContaining(["7.9 Service bindings", "7.10 Durable Objects"]));
  });

  it("lists exactly the read commands", () => {
    const sentence = /\*\*Read commands\*\*[^:]*:(.*?)Everything else/s.exec(PROTOCOL_DOC)?.[1] ?? "";
    const listed = [...sentence.matchAll(/`([\w.]+)`/g)].map((m) => m[1]);
    expect(listed.sort()).toEqual([...READ_COMMANDS].sort());
  });

  it("lists the reserved namespaces and the error codes in order", () => {
    const reserved = /namespaces reserved for this protocol:([^(]*)\(/s.exec(PROTOCOL_DOC)?.[1] ?? "";
    expect([...reserved.matchAll(/`(\w+)\.`/g)].map((m) => m[1]).sort()).toEqual([...RESERVED_NAMESPACES].sort());
    const table = /## 5\. Error codes\n\n([\s\S]*?)\n\n/.exec(PROTOCOL_DOC)?.[1] ?? "";
    expect([...table.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1])).toEqual([...COMMAND_ERROR_CODES]);
  });

  it("leaves out a kind a newer host describes and keeps the rest of its description", () => {
    const parsed = v.parse(DescribeResultSchema, {
      v: 1,
      bindings: { CACHE: "kv", INDEX: "vectorize", API: "service" },
      vars: {},
    });
    expect(parsed.bindings).toEqual({ CACHE: "kv", API: "service" });
  });
});
