/** The version in clinvk's package.json, searched upwards from this file (works from src/ and dist/). */
import fs from 'node:fs';
import path from 'node:path';

let cached: string | undefined;

export function packageVersion(): string {
  if (cached !== undefined) return cached;
  let dir = __dirname;
  for (let i = 0; i < 5; i++) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'clinvk' && typeof pkg.version === 'string') return (cached = pkg.version);
    } catch {
      // not here; keep looking
    }
    dir = path.dirname(dir);
  }
  return (cached = '0.0.0');
}
