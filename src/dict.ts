/**
 * Records keyed by names that come from outside: file paths, mapping names, local directories.
 * A plain object reads `constructor` or `toString` as present before anything was put there and
 * turns `__proto__` into its prototype instead of a key, so a file of that name would be left
 * out of a run's record (and removed by a restore of it). These have no prototype: every name is
 * a key like any other.
 */
export function dict<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>;
}

/** A copy of `from` without a prototype (Object.assign on a prototype-less target keeps `__proto__` a key). */
export function copyDict<T>(from: Readonly<Record<string, T>>): Record<string, T> {
  return Object.assign(dict<T>(), from);
}

/**
 * `value` (parsed JSON: JSON.parse keeps `__proto__` as a key of its own) without its prototype,
 * in place: a lookup of `constructor` then finds a file of that name or nothing.
 */
export function asDict<T>(value: Record<string, T>): Record<string, T> {
  return Object.setPrototypeOf(value, null) as Record<string, T>;
}
