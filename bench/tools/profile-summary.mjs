// Summarises .cpuprofile files (from `npm run bench -- --cpu-prof DIR` or node --cpu-prof): the functions
// with the most self time, and self time per source file, so a bench result can be explained quickly.
//   node bench/tools/profile-summary.mjs DIR_OR_FILE… [--top 25]
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

const args = process.argv.slice(2);
const topAt = args.indexOf('--top');
const top = topAt >= 0 ? Number(args.splice(topAt, 2)[1]) : 25;

function files(p) {
  if (statSync(p).isDirectory()) return readdirSync(p).flatMap((n) => files(path.join(p, n)));
  return p.endsWith('.cpuprofile') ? [p] : [];
}

function short(url) {
  if (!url) return '(native/vm)';
  const m = url.match(/(node_modules\/[^/]+(?:\/[^/]+)?|dist\/.*|src\/.*|bench\/.*)$/);
  return m ? m[1] : url.replace(/^file:\/\//, '').replace(/^node:/, 'node:');
}

for (const file of args.flatMap(files)) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  // timeDeltas[i] is the time before samples[i]; attribute it to that sample's node.
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const fn = new Map();
  const perFile = new Map();
  for (const [id, us] of self) {
    const cf = byId.get(id).callFrame;
    const name = `${cf.functionName || '(anonymous)'}  ${short(cf.url)}${cf.url ? `:${cf.lineNumber + 1}` : ''}`;
    fn.set(name, (fn.get(name) ?? 0) + us);
    const f = cf.functionName === '(idle)' ? '(idle)' : cf.functionName === '(garbage collector)' ? '(gc)' : short(cf.url);
    perFile.set(f, (perFile.get(f) ?? 0) + us);
  }
  const busy = total - (perFile.get('(idle)') ?? 0);
  const pct = (us) => `${((100 * us) / busy).toFixed(1).padStart(5)}%`;
  console.log(`\n== ${file}: ${(total / 1e6).toFixed(1)} s sampled, ${(busy / 1e6).toFixed(2)} s busy (percentages of busy time)`);
  console.log('-- self time by file');
  for (const [f, us] of [...perFile].filter(([f]) => f !== '(idle)').sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`${pct(us)}  ${f}`);
  console.log('-- self time by function');
  for (const [f, us] of [...fn].filter(([f]) => !f.startsWith('(idle)')).sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(us)}  ${f}`);
}
