/** The doctor report as a table for a terminal (`--json` prints the report object itself). */
import type { BackendReport, Check, CheckStatus, DoctorReport } from './checks';

const LABELS: Record<Check['id'], string> = {
  config: 'config',
  home: 'home',
  session_store: 'session store',
  api_keys: 'api keys',
  port: 'port',
};

const MARK: Record<CheckStatus, string> = { ok: 'ok', warn: 'warn', fail: 'FAIL', skip: 'skip' };
const INDENT = ' '.repeat(24);

function row(status: CheckStatus, label: string, text: string): string {
  return `  ${MARK[status].padEnd(6)}${label.padEnd(16)}${text}`;
}

function backendLines(b: BackendReport): string[] {
  const lines = [row(b.status, b.name, b.summary)];
  if (b.command) lines.push(`${INDENT}${b.command}`);
  if (b.command && b.enabled) {
    const present = b.credentials.sources.filter((s) => s.present);
    lines.push(
      present.length > 0
        ? `${INDENT}credentials: ${present.map((s) => (s.value ? `${s.source} = ${s.value}` : s.source)).join(', ')}`
        : `${INDENT}credentials: none found (looked for ${b.credentials.sources.map((s) => s.source).join(', ')})`,
    );
  }
  if (b.probe) {
    lines.push(
      b.probe.success
        ? `${INDENT}probe: answered in ${b.probe.latency_ms} ms${b.probe.model ? ` by ${b.probe.model}` : ''}`
        : `${INDENT}probe: failed after ${b.probe.latency_ms} ms: ${b.probe.error ?? 'no reply'}`,
    );
  }
  for (const w of b.warnings) lines.push(`${INDENT}! ${w}`);
  for (const n of b.next_steps) lines.push(`${INDENT}→ ${n}`);
  return lines;
}

export function renderDoctorTable(r: DoctorReport): string {
  const lines = [`clinvk doctor (clinvk ${r.clinvk_version})`, ''];
  for (const c of r.checks) {
    lines.push(row(c.status, LABELS[c.id], c.summary));
    for (const d of c.details ?? []) lines.push(`${INDENT}${d}`);
  }
  lines.push('', 'Backends:');
  for (const b of r.backends) lines.push(...backendLines(b));
  const enabled = r.backends.filter((b) => b.enabled);
  const usable = enabled.filter((b) => b.status !== 'fail');
  lines.push('');
  if (enabled.length === 0) lines.push('Result: no backend is enabled; enable one under backends.<name>.enabled.');
  else lines.push(`Result: ${usable.length} of ${enabled.length} enabled backends usable.`);
  lines.push(
    r.ok
      ? "Everything needed is in place: start the server with 'clinvk serve' (or 'make run')."
      : "Fix the FAIL lines above (→ shows how), then run 'clinvk doctor' again.",
  );
  return `${lines.join('\n')}\n`;
}
