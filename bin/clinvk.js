#!/usr/bin/env node
'use strict';
const path = require('node:path');
const fs = require('node:fs');

const entry = path.join(__dirname, '../dist/src/cli/main.js');
if (!fs.existsSync(entry)) {
  process.stderr.write(
    'clinvk: not built yet: run `make build` (or `npm run build`) in ' + path.dirname(__dirname) + '\n',
  );
  process.exit(1);
}
require(entry).main(process.argv.slice(2));
