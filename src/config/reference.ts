/**
 * The configuration reference (`docs/configuration.md`) and the commented example file
 * (`config.example.yaml`), rendered from the key declaration in `keys.ts`. `npm run generate` writes
 * both; a unit test fails when either is out of date, so a new key only needs its description.
 */
import YAML from 'yaml';
import { type KeyInfo, listKeys } from './derive';
import { CONFIG_KEYS, X_ENV } from './keys';

const keys = (): KeyInfo[] => listKeys(CONFIG_KEYS);

function typeOf(k: KeyInfo): string {
  const s = k.schema;
  if (Array.isArray(s.enum)) return (s.enum as string[]).join(' \\| ');
  if (Array.isArray(s.type)) return (s.type as string[]).join(' or ');
  if (s.type === 'array') return `list of ${String((s.items as { type?: string } | undefined)?.type ?? 'values')}`;
  if (s.type === 'object') return 'mapping';
  const range: string[] = [];
  if (typeof s.minimum === 'number') range.push(`≥ ${s.minimum}`);
  if (typeof s.maximum === 'number') range.push(`≤ ${s.maximum}`);
  return `${String(s.type)}${range.length ? ` (${range.join(', ')})` : ''}`;
}

function defaultText(k: KeyInfo): string {
  return k.schema.default === undefined ? 'unset' : `\`${JSON.stringify(k.schema.default)}\``;
}

const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

const INTRO = `# Configuration reference

<!-- Generated from src/config/keys.ts by \`npm run generate\`: edit the descriptions there, not here. -->

clinvk reads one YAML file: \`--config FILE\`, else \`$CLINVK_CONFIG\`, else \`$CLINVK_HOME/config.yaml\`
(\`CLINVK_HOME\` defaults to \`~/.clinvk\`; a missing default file means "built-in defaults").
Value precedence: command-line flag > environment variable > file > built-in default. The file is
read once at start-up (named keys in \`auth.keys\` are also re-read on SIGHUP).

- An invalid value stops start-up with one line per problem, naming the key
  (\`config error: server.rate_limit_rps: must be >= 0 (got -1)\`), exit code 2.
- Unknown keys are warnings (\`config warning: server.tls: unknown key (ignored)\`), so files written
  for the Go clinvoker keep working.
- \`clinvk config show\` prints the effective configuration; its output is itself a valid file.
- API keys never come from this file: \`CLINVK_API_KEYS\` (comma-separated), \`CLINVK_API_KEYS_FILE\`,
  or gopass (\`server.api_keys_gopass_path\` / \`CLINVK_API_KEYS_GOPASS_PATH\`: \`gopass show --password
  <path>\` must print the comma-separated keys; re-read every 5 minutes, a failed refresh keeps the
  previous keys). Named keys with roles are \`auth.keys\` entries holding a SHA-256 or the name of a
  variable (see \`clinvk keys new\`).
- Backends you do not use: set \`backends.<name>.enabled: false\`, otherwise \`/health\` reports
  \`degraded\` while their CLI is missing. \`clinvk doctor\` checks all of this.

See [\`config.example.yaml\`](../config.example.yaml) for a commented file with every key.
`;

const ENV_SECTION = `
## Environment variables

| Variable | Sets |
| --- | --- |
| \`CLINVK_HOME\` | state directory (config file location, \`sessions/\`, \`usage/\`) |
| \`CLINVK_CONFIG\` | config file path |
| \`CLINVK_API_KEYS\` | API keys, comma-separated (auth is off without any key source) |
| \`CLINVK_API_KEYS_FILE\` | a file with API keys (comma- or newline-separated, \`#\` comments) |
| \`CLINVK_LOG_FORMAT\` | \`json\` or \`text\` log lines (default: text on a terminal, JSON otherwise) |
`;

/** `docs/configuration.md`. */
export function renderConfigReference(): string {
  const out: string[] = [INTRO];
  let section: string | undefined;
  for (const k of keys()) {
    const top = k.path.length === 1 ? '(top level)' : k.path.slice(0, k.path[0] === 'backends' ? 2 : 1).join('.');
    if (top !== section) {
      section = top;
      out.push('', `## \`${top}\``, '', k.path.length === 1 ? '' : `${k.section ?? ''}`, '');
      out.push('| Key | Type | Default | Env | Meaning |', '| --- | --- | --- | --- | --- |');
    }
    const env = typeof k.schema[X_ENV] === 'string' ? `\`${k.schema[X_ENV] as string}\`` : '';
    out.push(
      `| \`${k.path.join('.')}\` | ${cell(typeOf(k))} | ${cell(defaultText(k))} | ${env} | ${cell(k.schema.description ?? '')} |`,
    );
  }
  out.push(ENV_SECTION);
  return `${out
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim()}\n`;
}

function wrap(text: string, width = 96): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line && line.length + word.length + 1 > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}

/** `config.example.yaml`: every key, commented out, with its default and environment variable. */
export function renderConfigExample(): string {
  const out: string[] = [
    '# clinvk configuration: every key with its default (all commented out: the defaults apply).',
    '# Generated from src/config/keys.ts by `npm run generate`; reference: docs/configuration.md.',
    '# Copy to $CLINVK_HOME/config.yaml (default ~/.clinvk/config.yaml) and uncomment what you change.',
    '# Secrets never go here: API keys come from CLINVK_API_KEYS, CLINVK_API_KEYS_FILE or gopass, and',
    "# the CLIs' own credentials from their environment variables or login files (see `clinvk doctor`).",
  ];
  const opened = new Set<string>();
  for (const k of keys()) {
    for (let depth = 1; depth < k.path.length; depth++) {
      const prefix = k.path.slice(0, depth).join('.');
      if (opened.has(prefix)) continue;
      opened.add(prefix);
      if (depth === 1) out.push('');
      out.push(`${'  '.repeat(depth - 1)}# ${k.path[depth - 1]}:`);
    }
    const indent = '  '.repeat(k.path.length - 1);
    const env = typeof k.schema[X_ENV] === 'string' ? ` (env ${k.schema[X_ENV] as string})` : '';
    for (const l of wrap(`${k.schema.description ?? ''}${env}`)) out.push(`${indent}## ${l}`);
    const name = k.path[k.path.length - 1]!;
    if (k.schema.default === undefined) out.push(`${indent}# ${name}:`);
    else {
      const value = YAML.stringify(k.schema.default, { flow: true, lineWidth: 0 }).trim();
      out.push(`${indent}# ${name}: ${value}`);
    }
  }
  return `${out.join('\n')}\n`;
}
