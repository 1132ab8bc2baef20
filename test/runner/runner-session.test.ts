// RunnerSession's pure bookkeeping: the routes a client reports (checked against the offer), which link a
// resource takes, and what each link subscribed to (what the runner pushes on it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RunnerSession, type OfferedRoutes } from '../../src/runner/runner-session.js';
import { PeerwayError } from '../../src/errors.js';

function session(offered: Partial<OfferedRoutes> = {}): RunnerSession {
  return new RunnerSession(
    's1',
    'token',
    { bearers: ['tcp'], host: 'h', version: 1 },
    { name: 'anonymous' },
    { direct: offered.direct ?? new Map<string, Set<string>>(), serverRefused: offered.serverRefused ?? new Set<string>() },
  );
}

function rejects(fn: () => unknown, code: string, message: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof PeerwayError, `expected a PeerwayError, got ${String(err)}`);
    assert.equal(err.code, code);
    assert.match(err.message, message);
    return true;
  });
}

test('acceptRoutes: no routes reported is an empty map; routes that are not a map (a number, null, an array) are PROTOCOL', () => {
  const s = session();
  assert.deepEqual(s.acceptRoutes(undefined, 'svc'), {});
  assert.deepEqual(s.acceptRoutes({}, 'svc'), {});
  for (const bad of [5, 'x', null, [], [{ linkType: 'server' }]]) {
    rejects(() => s.acceptRoutes(bad, 'svc'), 'PROTOCOL', /"routes" must be a map/);
  }
});

test('acceptRoutes: a direct route must name a string link the service offered for that resource; other shapes are PROTOCOL', () => {
  const s = session({ direct: new Map([['method:m', new Set(['fast'])]]) });
  assert.deepEqual(s.acceptRoutes({ 'method:m': { linkType: 'direct', link: 'fast' } }, 'svc'), { 'method:m': { linkType: 'direct', link: 'fast' } });
  // Server routes keep no link, whatever the client sent.
  assert.deepEqual(s.acceptRoutes({ 'method:m': { linkType: 'server', link: 'fast' } }, 'svc'), { 'method:m': { linkType: 'server' } });
  rejects(() => s.acceptRoutes({ 'method:m': { linkType: 'direct' } }, 'svc'), 'PROTOCOL', /must be \{ linkType: 'server' \} or \{ linkType: 'direct', link \}/);
  rejects(() => s.acceptRoutes({ 'method:m': { linkType: 'direct', link: 7 } }, 'svc'), 'PROTOCOL', /must be \{ linkType: 'server' \}/);
  rejects(() => s.acceptRoutes({ 'method:m': { linkType: 'bogus', link: 'fast' } }, 'svc'), 'PROTOCOL', /must be \{ linkType: 'server' \}/);
  rejects(() => s.acceptRoutes({ 'method:m': null }, 'svc'), 'PROTOCOL', /must be \{ linkType: 'server' \}/);
  rejects(() => s.acceptRoutes({ 'method:m': { linkType: 'direct', link: 'other' } }, 'svc'), 'PROTOCOL', /did not offer this session a direct route on link "other"/);
  rejects(() => s.acceptRoutes({ 'method:n': { linkType: 'direct', link: 'fast' } }, 'svc'), 'PROTOCOL', /did not offer/);
});

test('acceptRoutes: a resource that requires its direct route is accepted reported direct, refused (BEARER_MISSING) via the server or unreported', () => {
  const s = session({ direct: new Map([['method:m', new Set(['secure'])]]), serverRefused: new Set(['method:m']) });
  assert.deepEqual(s.acceptRoutes({ 'method:m': { linkType: 'direct', link: 'secure' } }, 'svc'), { 'method:m': { linkType: 'direct', link: 'secure' } });
  rejects(() => s.acceptRoutes({ 'method:m': { linkType: 'server' } }, 'svc'), 'BEARER_MISSING', /requires its direct route for method "m"/);
  rejects(() => s.acceptRoutes({}, 'svc'), 'BEARER_MISSING', /requires its direct route/);
});

test('directLink: the link of a direct route only; a server route or an unknown resource has none', () => {
  const s = session();
  // A server route carrying a link (acceptRoutes never stores one, but the field is public) is still no direct link.
  s.routes = { 'method:a': { linkType: 'direct', link: 'fast' }, 'method:b': { linkType: 'server', link: 'fast' }, 'method:c': { linkType: 'server' } };
  assert.equal(s.directLink('method:a'), 'fast');
  assert.equal(s.directLink('method:b'), undefined);
  assert.equal(s.directLink('method:c'), undefined);
  assert.equal(s.directLink('method:d'), undefined);
});

test('events: a link wants only the events it subscribed to (one by name, or all with ""), per link; unsubscribe drops one', () => {
  const s = session();
  assert.equal(s.wantsEvent('L', 'a'), false, 'nothing subscribed');
  s.subscribe('L', 'event', 'a');
  s.subscribe('L', 'event', 'b');
  s.subscribe('L', 'event', 'a'); // twice: still one subscription
  assert.equal(s.wantsEvent('L', 'a'), true);
  assert.equal(s.wantsEvent('L', 'b'), true);
  assert.equal(s.wantsEvent('L', 'c'), false);
  assert.equal(s.wantsEvent('M', 'a'), false, 'another link subscribed to nothing');
  // Unsubscribing from events leaves the data watches alone, and the reverse.
  s.subscribe('L', 'data', 'a');
  s.unsubscribe('L', 'event', 'a');
  assert.equal(s.wantsEvent('L', 'a'), false);
  assert.equal(s.wantsEvent('L', 'b'), true);
  assert.equal(s.wantsData('L', 'a'), true);
  s.unsubscribe('L', 'data', 'b');
  assert.equal(s.wantsEvent('L', 'b'), true);
  // All events: '' (no name).
  s.subscribe('M', 'event', '');
  assert.equal(s.wantsEvent('M', 'anything'), true);
  s.subscribe('M', 'event', 'x');
  s.unsubscribe('M', 'event', undefined);
  assert.equal(s.wantsEvent('M', 'anything'), false, 'unsubscribe with no name drops the all-events subscription');
  assert.equal(s.wantsEvent('M', 'x'), true, 'and only that one');
  s.unsubscribe('M', 'event', 'x');
  assert.equal(s.wantsEvent('M', 'x'), false);
  s.unsubscribe('N', 'event', 'x'); // a link with nothing subscribed: no error
});

test('data: a link wants the changes of paths overlapping a path it watches; unsubscribe drops that watch only', () => {
  const s = session();
  assert.equal(s.wantsData('L', 'a'), false, 'no watch on this link');
  s.subscribe('L', 'data', 'a.b');
  s.subscribe('L', 'data', 'a.b'); // twice
  s.subscribe('L', 'data', 'x');
  assert.equal(s.wantsData('L', 'a.b'), true);
  assert.equal(s.wantsData('L', 'a.b.c'), true, 'inside the watched path');
  assert.equal(s.wantsData('L', 'a'), true, 'a parent of the watched path');
  assert.equal(s.wantsData('L', 'a.c'), false, 'a sibling');
  assert.equal(s.wantsData('L', 'y'), false);
  assert.equal(s.wantsData('L', 'x'), true, 'the second watch');
  assert.equal(s.wantsData('M', 'a.b'), false, 'another link watches nothing');
  s.unsubscribe('L', 'data', 'a.b');
  assert.equal(s.wantsData('L', 'a.b'), false, 'a watch subscribed twice goes with one unsubscribe');
  assert.equal(s.wantsData('L', 'x'), true, 'the other watch stays');
  // The whole tree: '' (no name).
  s.subscribe('M', 'data', '');
  s.subscribe('M', 'data', 'q');
  assert.equal(s.wantsData('M', 'anything.at.all'), true);
  s.unsubscribe('M', 'data', undefined);
  assert.equal(s.wantsData('M', 'anything'), false, 'unsubscribe with no name drops the whole-tree watch');
  assert.equal(s.wantsData('M', 'q'), true, 'and only that one');
  s.unsubscribe('N', 'data', 'q'); // a link with nothing watched: no error
  assert.equal(s.wantsData('N', 'q'), false);
});

test('clearLink drops what a closed link subscribed to, not what other links did', () => {
  const s = session();
  s.subscribe('L', 'event', '');
  s.subscribe('L', 'data', '');
  s.subscribe('M', 'event', 'a');
  s.subscribe('M', 'data', 'a');
  s.clearLink('L');
  assert.equal(s.wantsEvent('L', 'a'), false);
  assert.equal(s.wantsData('L', 'a'), false);
  assert.equal(s.wantsEvent('M', 'a'), true);
  assert.equal(s.wantsData('M', 'a'), true);
});
