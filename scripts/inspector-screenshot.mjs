#!/usr/bin/env node
// Takes docs/inspector.png: runs `peerway demo` (a server with Vehicle, a runner with Climate, a client that
// takes Climate's direct routes), opens the inspector URL it prints in headless Chromium, makes one call
// and one bad call from the forms, and captures the page. Needs `npm run build` and Debian's chromium.
//
//   node scripts/inspector-screenshot.mjs [--out docs/inspector.png] [--chromium /usr/bin/chromium]
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';

const root = path.resolve(fileURLToPath(new URL('..', import.meta.url)));
const { values: options } = parseArgs({
  options: {
    out: { type: 'string', default: path.join(root, 'docs', 'inspector.png') },
    chromium: { type: 'string', default: '/usr/bin/chromium' },
  },
});

/** Resolves with the first match of `pattern` in what `stream` printed so far or prints next. */
function waitFor(stream, pattern, timeoutMs, what) {
  let text = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what}: nothing matched ${pattern} within ${timeoutMs} ms:\n${text}`)), timeoutMs);
    const onData = (chunk) => {
      text += chunk.toString();
      const m = pattern.exec(text);
      if (!m) return;
      clearTimeout(timer);
      stream.off('data', onData);
      resolve(m);
    };
    stream.on('data', onData);
  });
}

// In a process group of its own, so one signal stops the demo and the server and runner it started.
const demo = spawn(process.execPath, [path.join(root, 'bin', 'peerway'), 'demo'], {
  cwd: root,
  detached: true,
  stdio: ['ignore', 'pipe', 'inherit'],
  env: { ...process.env, PEERWAY_LOG_LEVEL: 'warn' },
});
const stopDemo = () => {
  try {
    process.kill(-demo.pid, 'SIGINT');
  } catch {
    // already gone
  }
};
let browser;
try {
  const ready = waitFor(demo.stdout, /Press Ctrl-C to stop/, 30_000, 'peerway demo');
  const [, url] = await waitFor(demo.stdout, /inspector: (http:\/\/\S+)/, 30_000, 'peerway demo');
  await ready;
  browser = await chromium.launch({
    executablePath: options.chromium,
    args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking'],
  });
  const page = await browser.newPage({ viewport: { width: 1360, height: 900 }, deviceScaleFactor: 1, colorScheme: 'light' });
  page.setDefaultTimeout(15_000);
  await page.goto(url);
  await page.waitForSelector('[data-testid="connection"][data-state="connected"]');
  for (const name of ['Climate', 'Vehicle']) await page.getByTestId(`service-${name}`).waitFor();
  await page.getByTestId('arg-Climate-setTemperature-zone').fill('1');
  await page.getByTestId('arg-Climate-setTemperature-celsius').fill('26.5');
  await page.getByTestId('call-Climate-setTemperature').click();
  await page.waitForFunction(() => document.querySelector('[data-testid="result-Climate-setTemperature"]')?.textContent === 'true');
  await page.getByTestId('arg-Climate-getTemperature-zone').fill('one');
  await page.getByTestId('call-Climate-getTemperature').click();
  await page.getByTestId('error-Climate-getTemperature').waitFor();
  // Let the cabin drift towards the new target, so live values and events show on the page.
  await page.waitForTimeout(2500);
  await page.screenshot({ path: options.out, fullPage: true });
  console.log(`wrote ${path.relative(process.cwd(), options.out)} from ${url}`);
} finally {
  await browser?.close();
  stopDemo();
}
