/**
 * Start-up allocates mostly long-lived objects (modules, compiled validators, the OpenAPI
 * document), so V8 sees a high survival rate in its young generation and grows it to the maximum
 * (2 × 16 MiB). Those pages stay resident, empty, until V8's memory reducer runs after a while
 * without requests: most of the difference between the RSS right after start and when idle.
 * While the server starts, the young generation keeps its initial size (growth factor 1); the
 * default growth is restored once the app is built, so requests get V8's usual young generation.
 * Imported first by http/server.ts, so that it applies before the server's modules load; a
 * growth factor given on the command line is left alone.
 */
import v8 from 'node:v8';

/** V8's default `--semi-space-growth-factor`. */
const DEFAULT_GROWTH = 2;

const givenByUser = [...process.execArgv, process.env.NODE_OPTIONS ?? ''].some((a) =>
  /semi[-_]space[-_]growth[-_]factor/.test(a),
);
let held = false;

function hold(): void {
  if (givenByUser || held) return;
  held = true;
  v8.setFlagsFromString('--semi-space-growth-factor=1');
}

/** Restores V8's default young-generation growth (once the server is built). */
export function releaseYoungGeneration(): void {
  if (!held) return;
  held = false;
  v8.setFlagsFromString(`--semi-space-growth-factor=${DEFAULT_GROWTH}`);
}

hold();
