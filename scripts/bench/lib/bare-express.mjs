// The reference for scripts/bench/api.mjs: a bare Express 5 app answering fixed JSON bodies (given
// over IPC as {path → body}) with no middleware at all. Reports {type:'ready', url} once listening.
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const express = require(path.join(root, 'node_modules/express'));

process.once('message', (m) => {
  const app = express();
  for (const [p, body] of Object.entries(m.bodies)) app.get(p, (_req, res) => res.json(body));
  const server = app.listen(0, '127.0.0.1', () =>
    process.send({ type: 'ready', url: `http://127.0.0.1:${server.address().port}` }),
  );
  process.on('disconnect', () => process.exit(0));
});
