/**
 * The process supervisor: a small long-lived child process of the server that spawns the CLIs, so
 * that the server's event loop never runs fork/exec (a fork of the big server process blocks its
 * loop for tens of milliseconds), and so that no CLI outlives the server: when the IPC channel to
 * the server closes — whatever killed the server — every group started here is killed (SIGTERM,
 * SIGKILL after the grace period) and the supervisor exits.
 *
 * It ignores SIGINT, SIGTERM and SIGHUP: those reach the whole process group of the server (Ctrl-C,
 * `kill -TERM -<pgid>`, a closed terminal), and the server must be able to drain its running
 * requests first; the supervisor then follows the server (channel closed). Keep this program
 * small: plain Node, no imports beyond the files it needs (its memory is part of the server's cost).
 * Protocol: protocol.ts; server side: client.ts.
 */
import { processStartTime } from './proc';
import type { FromSupervisor, SupervisorOptions, ToSupervisor } from './protocol';
import { Spawner } from './spawner';

function main(): void {
  if (!process.send) {
    process.stderr.write('clinvk supervisor: must be started by the server (no IPC channel)\n');
    process.exit(2);
  }
  const opts = JSON.parse(process.argv[2] ?? '{}') as SupervisorOptions;
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => undefined);

  const send = (m: FromSupervisor): void => {
    if (!process.connected) return;
    // With a callback, a failed send (the server just died) is not an uncaught 'error'.
    process.send!(m, undefined, {}, () => undefined);
  };
  const spawner = new Spawner(
    {
      socketPath: opts.socketPath,
      runDir: opts.runDir,
      instance: opts.instance,
      serverPid: process.ppid,
      serverStartTime: processStartTime(process.ppid),
    },
    send,
  );

  process.on('message', (m: ToSupervisor) => {
    if (m.t === 'spawn') spawner.spawn(m);
    else if (m.t === 'kill') spawner.kill(m.id);
  });
  process.on('disconnect', () => spawner.stopAll(() => process.exit(0)));
  send({ t: 'ready', pid: process.pid });
}

main();
