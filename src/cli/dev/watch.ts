import { watch } from "node:fs";
import { relative, sep } from "node:path";

/** Options of {@link watchDirectory}. */
export interface WatchOptions {
  /** Quiet time after the last change before `onChange` runs, in ms (default 100). */
  debounceMs?: number;
  /** Absolute paths whose changes never count (e.g. the persisted state inside the app's directory). */
  ignore?: string[];
}

/** Whether a changed path (relative to the watched directory) is the app's own source. */
export function isSourceChange(path: string): boolean {
  // Hidden directories (.git, .containerflare with the compiled entry and local state) and
  // installed packages are not the app's source; their churn must not restart it.
  return path !== "" && !path.split(/[\\/]/).some((part) => part.startsWith(".") || part === "node_modules");
}

/**
 * Calls `onChange` once per burst of changes under `directory` (recursively), with the paths
 * that changed. Returns a function that stops watching.
 */
export function watchDirectory(directory: string, onChange: (paths: string[]) => void, options: WatchOptions = {}): () => void {
  const debounceMs = options.debounceMs ?? 100;
  const ignored = (options.ignore ?? []).map((path) => relative(directory, path)).filter((path) => path && !path.startsWith(".."));
  let timer: ReturnType<typeof setTimeout> | undefined;
  let changed = new Set<string>();
  const watcher = watch(directory, { recursive: true }, (_event, filename) => {
    const path = filename?.toString() ?? "";
    if (!isSourceChange(path) || ignored.some((prefix) => path === prefix || path.startsWith(prefix + sep))) return;
    changed.add(path);
    clearTimeout(timer);
    timer = setTimeout(() => {
      const paths = [...changed];
      changed = new Set();
      onChange(paths);
    }, debounceMs);
  });
  watcher.on("error", () => {
    // The directory went away: nothing left to watch.
  });
  return () => {
    clearTimeout(timer);
    watcher.close();
  };
}
