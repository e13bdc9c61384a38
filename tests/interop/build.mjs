// Builds the browser bundles the interop tests load (test-only, git-ignored output).
// Run from scripts/install-interop.sh, or `npm run build` in tests/interop.
import { build } from 'esbuild';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const outdir = join(here, 'build');

const entries = [
  { in: join(here, 'page', 'client-sdk-entry.js'), out: 'client-sdk' },
  { in: join(here, 'page', 'open-im-sdk-entry.js'), out: 'open-im-sdk' },
];

await mkdir(outdir, { recursive: true });
await build({
  entryPoints: entries,
  outdir,
  bundle: true,
  format: 'iife',
  platform: 'browser',
  target: ['chrome110'],
  logLevel: 'warning',
  legalComments: 'inline',
});

// A stamp naming the exact package versions the bundle was built from; the
// pytest fixtures compare it with node_modules to detect a stale build.
const versions = {};
for (const name of ['@openim/client-sdk', '@openim/protocol', 'open-im-sdk', 'esbuild']) {
  const pkg = JSON.parse(await readFile(join(here, 'node_modules', name, 'package.json'), 'utf8'));
  versions[name] = pkg.version;
}
await writeFile(join(outdir, 'stamp.json'), JSON.stringify({ versions }, null, 2) + '\n');
console.log(`built ${entries.map((e) => e.out).join(', ')} into ${outdir}`);
