/**
 * What a newcomer needs to know about each CLI: how to install the pinned version, which version
 * range the adapter was verified with, how to read its `--version` output and where it looks for
 * credentials. Each adapter carries its own facts (`<cli>/onboarding.ts`); `clinvk doctor`,
 * `/api/v1/backends` and the start-up warnings read them from there.
 */
import type { VerifiedRange } from './version';

/** A file in a CLI's configuration directory: `$<dirEnv>/<name>`, else `~/<defaultDir>/<name>`. */
export interface CliFile {
  dirEnv?: string;
  defaultDir: string;
  name: string;
}

/** One way a CLI can be given credentials. Only presence is ever reported, never a value. */
export type CredentialSource =
  | { kind: 'env'; name: string; note?: string }
  /** `name` must equal `value` (e.g. `CLAUDE_CODE_USE_BEDROCK=1`), with the cloud's own credentials. */
  | { kind: 'env-equals'; name: string; value: string; note?: string }
  /** Both variables set, the second to `value` (e.g. `GOOGLE_API_KEY` + `GOOGLE_GENAI_USE_VERTEXAI=true`). */
  | { kind: 'env-with'; name: string; with: string; value: string; note?: string }
  /** A login file written by the CLI. */
  | { kind: 'file'; file: CliFile; note?: string }
  /** A key inside a JSON settings file (dotted path); `showValue` for non-secret keys such as a method name. */
  | { kind: 'json-key'; file: CliFile; key: string; note?: string; showValue?: boolean }
  /** Variables named by `env_key = "…"` entries of a TOML file (codex custom model providers). */
  | { kind: 'toml-env-key'; file: CliFile; note?: string };

export interface BackendOnboarding {
  /** npm package of the CLI. */
  package: string;
  /** The version clinvk was verified with (installed by `installCommand`). */
  pinnedVersion: string;
  verified: VerifiedRange;
  /** Captures the `x.y.z` version in the `--version` output. */
  versionPattern: RegExp;
  credentials: CredentialSource[];
  /** How to log in or which variable to set when no credential is found. */
  login: string;
}

export function installCommand(o: BackendOnboarding): string {
  return `npm install -g ${o.package}@${o.pinnedVersion}`;
}
