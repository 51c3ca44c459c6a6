/** The bindings every typed fixture app declares, as a Worker's `Env` would. */
import type { D1Database, KVNamespace, Queue } from "containerflare/command";

export interface Env {
  CACHE: KVNamespace;
  DB: D1Database;
  JOBS: Queue;
}
