/**
 * Where each CLI finds credentials (the sources its adapter lists in `onboarding.ts`), checked for
 * presence only: a value is never returned, except for non-secret settings marked `showValue`
 * (such as gemini's chosen sign-in method).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { CliFile, CredentialSource } from '../backends/onboarding';

export interface CredentialFinding {
  /** What was looked for: a variable name, `NAME=value`, or a file path (`…/settings.json: apiKeyHelper`). */
  source: string;
  present: boolean;
  note?: string;
  /** Only for non-secret settings (`showValue`). */
  value?: string;
}

/** `$<dirEnv>/<name>`, else `~/<defaultDir>/<name>` (home from the child's `HOME`). */
export function cliFilePath(file: CliFile, env: NodeJS.ProcessEnv): string {
  const dir =
    file.dirEnv && env[file.dirEnv] ? env[file.dirEnv]! : path.join(env.HOME || os.homedir(), file.defaultDir);
  return path.join(dir, file.name);
}

function isSet(env: NodeJS.ProcessEnv, name: string): boolean {
  return (env[name] ?? '') !== '';
}

function readJsonKey(file: string, key: string): unknown {
  try {
    let cur: unknown = JSON.parse(fs.readFileSync(file, 'utf8'));
    for (const part of key.split('.')) {
      if (cur === null || typeof cur !== 'object') return undefined;
      cur = (cur as Record<string, unknown>)[part];
    }
    return cur;
  } catch {
    return undefined;
  }
}

function isReadableFile(file: string): boolean {
  try {
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** Variable names of `env_key = "NAME"` lines in a TOML file (codex custom model providers). */
function tomlEnvKeys(file: string): string[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return [...text.matchAll(/^\s*env_key\s*=\s*["']([^"'\s]+)["']/gm)].map((m) => m[1]!);
}

export function findCredentials(sources: CredentialSource[], env: NodeJS.ProcessEnv): CredentialFinding[] {
  const out: CredentialFinding[] = [];
  for (const s of sources) {
    const note = s.note ? { note: s.note } : {};
    switch (s.kind) {
      case 'env':
        out.push({ source: s.name, present: isSet(env, s.name), ...note });
        break;
      case 'env-equals':
        out.push({ source: `${s.name}=${s.value}`, present: env[s.name] === s.value, ...note });
        break;
      case 'env-with':
        out.push({
          source: `${s.name} with ${s.with}=${s.value}`,
          present: isSet(env, s.name) && env[s.with] === s.value,
          ...note,
        });
        break;
      case 'file': {
        const file = cliFilePath(s.file, env);
        out.push({ source: file, present: isReadableFile(file), ...note });
        break;
      }
      case 'json-key': {
        const file = cliFilePath(s.file, env);
        const v = readJsonKey(file, s.key);
        const finding: CredentialFinding = {
          source: `${file}: ${s.key}`,
          present: v !== undefined && v !== '',
          ...note,
        };
        if (s.showValue && typeof v === 'string' && /^[A-Za-z0-9._-]{1,40}$/.test(v)) finding.value = v;
        out.push(finding);
        break;
      }
      case 'toml-env-key': {
        const file = cliFilePath(s.file, env);
        for (const name of tomlEnvKeys(file)) {
          out.push({ source: `${name} (env_key in ${file})`, present: isSet(env, name), ...note });
        }
        break;
      }
    }
  }
  return out;
}

/**
 * Whether any finding gives the CLI a credential. A method name alone (gemini's `selectedType`)
 * does not count: it only says which of the other sources will be used.
 */
export function hasCredential(findings: CredentialFinding[]): boolean {
  return findings.some((f) => f.present && f.value === undefined);
}
