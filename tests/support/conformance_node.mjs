// Runs the conformance table (tests/conformance.json) through the Node client,
// clients/node/vitrine_client.mjs, used as it ships: that module is a command-line program
// (it runs its main() on import), so each request is one `generate` run of it, with the
// table's options as its flags; this script hashes the files it wrote.
//   node tests/support/conformance_node.mjs ADDRESS TABLE  ->  one JSON line per case
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const client = resolve(here, '..', '..', 'clients', 'node', 'vitrine_client.mjs');
const [address, tablePath] = process.argv.slice(2);
const table = JSON.parse(readFileSync(tablePath, 'utf8'));

for (const c of table.cases) {
  const out = mkdtempSync(join(tmpdir(), 'vitrine-node-'));
  const args = [client, '--address', address, 'generate', c.model, '--category', c.category,
    '--seed', String(c.seed), '-o', out];
  for (const [name, value] of Object.entries(c.options ?? {})) {
    args.push(`--${name.replace(/_/g, '-')}`, String(value));
  }
  const summary = JSON.parse(execFileSync(process.execPath, args, { encoding: 'utf8' }));
  const files = {};
  for (const f of summary.files) {
    files[f.name] = createHash('sha256').update(readFileSync(join(out, f.name))).digest('hex');
  }
  process.stdout.write(JSON.stringify({ asset_id: summary.asset_id, files }) + '\n');
  rmSync(out, { recursive: true, force: true });
}
