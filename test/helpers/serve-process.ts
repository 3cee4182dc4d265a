/**
 * The built `clinvk serve` as a child process (`make test` builds dist/ first), for tests that need
 * real separate server processes: crashes, restarts, several nodes of one cluster.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { TestEnv } from './server';

const BIN = path.resolve(__dirname, '../../bin/clinvk.js');
const MAIN = path.resolve(__dirname, '../../dist/src/cli/main.js');

export interface ServerProcess {
  child: ChildProcess;
  url: string;
  /** SIGKILL, resolved once the process is gone. */
  kill(): Promise<void>;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
}

export function requireBuild(): void {
  if (!fs.existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npm run build\` first`);
}

/** Starts `clinvk serve` on `env`'s config file and home; resolves with its URL once it listens. */
export function serveProcess(env: TestEnv, extraEnv: NodeJS.ProcessEnv = {}): Promise<ServerProcess> {
  const child = spawn(
    process.execPath,
    [
      BIN,
      'serve',
      '--config',
      path.join(env.root, 'config.yaml'),
      '--port',
      '0',
      '--log-level',
      process.env.CLINVK_TEST_NODE_LOG ?? 'error',
    ],
    {
      env: { ...process.env, CLINVK_HOME: env.home, CLINVK_API_KEYS: '', CLINVK_CONFIG: '', ...extraEnv },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no banner: ${out}`)), 30_000);
    const onData = (d: Buffer): void => {
      out += d.toString();
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({
          child,
          url: m[1]!,
          output: () => out,
          kill: async () => {
            if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
            await exited;
          },
        });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
  });
}

/** A TCP port that was free a moment ago. */
export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}
