// Preload for `npm run bench -- --cpu-prof DIR`: Node 20 refuses --cpu-prof in NODE_OPTIONS, and the bench
// starts Peerway processes through bin/peerway, so it loads this with NODE_OPTIONS=--import instead.
// It samples the whole process with the inspector's profiler and writes a .cpuprofile (open it in Chrome
// DevTools or VS Code) into $PEERWAY_BENCH_CPU_PROF_DIR when the process exits.
import { Session } from 'node:inspector';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const dir = process.env.PEERWAY_BENCH_CPU_PROF_DIR;
if (dir) {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: 100 }); // µs
  session.post('Profiler.start');
  // The in-process inspector session answers synchronously, so this works inside 'exit'.
  process.once('exit', () => {
    session.post('Profiler.stop', (err, result) => {
      if (err || !result) return;
      mkdirSync(dir, { recursive: true });
      writeFileSync(path.join(dir, `CPU.${process.pid}.cpuprofile`), JSON.stringify(result.profile));
    });
  });
}
