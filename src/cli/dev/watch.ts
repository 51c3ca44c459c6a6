import { type FSWatcher, readdirSync, watch } from "node:fs";
import { join, relative, sep } from "node:path";

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
 * that changed. Hidden directories and `node_modules` are not even watched: the directory
 * itself is watched flat and each of its other subdirectories recursively, so an app next to
 * its node_modules costs a handful of watches, not one per installed package directory.
 * Returns a function that stops watching.
 */
export function watchDirectory(
  directory: string,
  onChange: (paths: string[]) => void,
  options: WatchOptions = {},
): () => void {
  const debounceMs = options.debounceMs ?? 100;
  const ignored = (options.ignore ?? [])
    .map((path) => relative(directory, path))
    .filter((path) => path && !path.startsWith(".."));
  let timer: ReturnType<typeof setTimeout> | undefined;
  let changed = new Set<string>();

  const record = (path: string) => {
    if (!isSourceChange(path) || ignored.some((prefix) => path === prefix || path.startsWith(prefix + sep))) return;
    changed.add(path);
    clearTimeout(timer);
    timer = setTimeout(() => {
      const paths = [...changed];
      changed = new Set();
      onChange(paths);
    }, debounceMs);
  };

  const watchers: FSWatcher[] = [];
  const add = (path: string, prefix: string, recursive: boolean) => {
    try {
      const watcher = watch(path, { recursive }, (_event, filename) =>
        record(join(prefix, filename?.toString() ?? "")),
      );
      // The directory went away: nothing left to watch there.
      watcher.on("error", () => watcher.close());
      watchers.push(watcher);
    } catch {
      // Unreadable or gone between listing and watching.
    }
  };
  add(directory, "", false);
  for (const entry of readdirSync(directory, { withFileTypes: true })) {
    if (entry.isDirectory() && isSourceChange(entry.name)) add(join(directory, entry.name), entry.name, true);
  }
  return () => {
    clearTimeout(timer);
    for (const watcher of watchers) watcher.close();
  };
}
