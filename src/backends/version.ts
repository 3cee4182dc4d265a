/**
 * Versions of the agent CLIs: parsing `--version` output and checking it against the range an
 * adapter was verified with. Pure functions; the cached probe that runs `--version` is `version-probe.ts`.
 */

/** `[major, minor, patch]`. */
export type Semver = [number, number, number];

export interface VerifiedRange {
  /** Lowest verified version (inclusive). */
  min: string;
  /** First version no longer covered (exclusive). */
  below: string;
  /** How the range reads for people (`2.1.x`). */
  label: string;
}

export function parseSemver(s: string): Semver | undefined {
  const m = /^(\d+)\.(\d+)\.(\d+)/.exec(s.trim());
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : undefined;
}

export function compareSemver(a: Semver, b: Semver): number {
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i]! < b[i]! ? -1 : 1;
  return 0;
}

/** The version in a CLI's `--version` output (the first `x.y.z` that `pattern` captures). */
export function parseVersionOutput(output: string, pattern: RegExp): string | undefined {
  const m = pattern.exec(output);
  return m?.[1];
}

export function inRange(version: string, range: VerifiedRange): boolean {
  const v = parseSemver(version);
  const lo = parseSemver(range.min);
  const hi = parseSemver(range.below);
  if (!v || !lo || !hi) return false;
  return compareSemver(v, lo) >= 0 && compareSemver(v, hi) < 0;
}
