/**
 * Ids a CLI reports (claude and gemini session ids, codex thread ids) are data, never flags: they
 * are stored only when they are UUIDs (codex uses v7, the others v4; any version is accepted), so a
 * CLI (or whatever wrote its output) cannot plant an option such as `--dangerously-skip-permissions`
 * in a later argv. Rendering is safe as well (`--resume=<id>`, after `--` for codex).
 */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isValidBackendSessionId(id: unknown): id is string {
  return typeof id === 'string' && UUID.test(id);
}
