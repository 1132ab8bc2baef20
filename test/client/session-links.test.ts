import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { BearerAddress, MessageConnection } from '../../src/bearer/bearer.js';
import { memoryBearer } from '../../src/bearer/memory.js';
import { getBearer } from '../../src/bearer/registry.js';
import { linkDialer, openRoutes, type OpenedRoutes } from '../../src/client/link-opener.js';
import { PeerwayError } from '../../src/errors.js';
import type { RoutingInstructions } from '../../src/routing/instructions.js';
import type { RouteAlternative } from '../../src/routing/route-table.js';
import { acceptHandshake } from '../../src/wire/handshake.js';

/**
 * How a session start opens its links (in process, over connect.bearer.memory): which links it keeps,
 * which it tries again later, and what a caller gets when a required one does not open. The peers here
 * are bare link endpoints that welcome, refuse, or never answer the hello.
 */

const MEMORY = 'connect.bearer.memory';
const TIMEOUT_MS = 300;
let serial = 0;

type Behaviour = 'welcome' | 'refuse' | 'silent';

interface LinkPeer {
  address: BearerAddress;
  /** Resolves when the client closes the link after it was welcomed. */
  closed: Promise<void>;
}

/** A link endpoint on a fresh memory:// name that welcomes the hello, refuses it (a bad token), or never answers. */
async function linkPeer(t: TestContext, behaviour: Behaviour): Promise<LinkPeer> {
  let closedWith!: () => void;
  const closed = new Promise<void>((resolve) => (closedWith = resolve));
  const silent: MessageConnection[] = [];
  const listener = await memoryBearer.listen({ bearer: MEMORY, path: `link-peer-${process.pid}-${++serial}` }, (connection) => {
    if (behaviour === 'silent') {
      silent.push(connection);
      return;
    }
    acceptHandshake(connection, 'a client', {
      roles: ['link'],
      peer: 'a runner',
      verify: () => {
        if (behaviour === 'refuse') throw new PeerwayError('UNAUTHORIZED', 'the link token is not valid for this session');
      },
    }).then(
      ({ channel }) => channel.start({ close: () => closedWith() }),
      () => undefined,
    );
  });
  t.after(async () => {
    for (const c of silent) c.close('test over');
    await listener.close();
  });
  return { address: listener.address, closed };
}

/** An address nothing listens on. */
const nobody = (): BearerAddress => ({ bearer: MEMORY, path: `nobody-${process.pid}-${++serial}` });

const direct = (link: string, required = false): RouteAlternative => ({ linkType: 'direct', link, bearer: MEMORY, required });
const SERVER: RouteAlternative = { linkType: 'server', required: false };

function instructions(links: Record<string, BearerAddress>, resources: Record<string, RouteAlternative[]>): RoutingInstructions {
  return {
    service: 'Lab',
    session: 'session-1',
    links: Object.entries(links).map(([name, address]) => ({ name, address, token: 'token-1' })),
    resources: new Map(Object.entries(resources).map(([key, usable]) => [key, { usable, skipped: [] }])),
  };
}

async function open(t: TestContext, ri: RoutingInstructions): Promise<OpenedRoutes> {
  const opened = await openRoutes(ri, { adapters: {}, timeoutMs: TIMEOUT_MS, handlersFor: () => ({}) });
  t.after(() => {
    for (const c of opened.links.values()) c.close('test over');
  });
  return opened;
}

test('a session start keeps for a later attempt only the link that did not answer in time, not the ones that refused or had nobody listening', async (t) => {
  const [up, slow, refusing] = await Promise.all([linkPeer(t, 'welcome'), linkPeer(t, 'silent'), linkPeer(t, 'refuse')]);
  const ri = instructions(
    { slow: slow.address, refusing: refusing.address, gone: nobody(), up: up.address },
    { 'method:a': [direct('slow'), direct('refusing'), direct('gone'), direct('up'), SERVER] },
  );
  const opened = await open(t, ri);
  assert.deepEqual(opened.routes, { 'method:a': { linkType: 'direct', link: 'up' } });
  assert.deepEqual([...opened.late.keys()], ['slow'], 'only the link that timed out may come up later');
  assert.equal(opened.warnings.length, 1);
  assert.match(opened.warnings[0], /^Lab method "a": link slow \(connect\.bearer\.memory\) could not be opened: .*did not answer the hello within 300 ms/);
  assert.match(opened.warnings[0], /link refusing \(connect\.bearer\.memory\) could not be opened: the link token is not valid for this session/);
  assert.match(opened.warnings[0], /link gone \(connect\.bearer\.memory\) could not be opened: nothing listens on memory:\/\//);
  assert.match(opened.warnings[0], /; using link up instead$/);
});

test('a link that opened but that no resource ended up on is closed, and only the links in use are kept', async (t) => {
  const [first, spare] = await Promise.all([linkPeer(t, 'welcome'), linkPeer(t, 'welcome')]);
  const ri = instructions({ first: first.address, spare: spare.address }, { 'method:a': [direct('first'), direct('spare'), SERVER], 'method:b': [direct('first'), SERVER] });
  const opened = await open(t, ri);
  assert.deepEqual(opened.routes, { 'method:a': { linkType: 'direct', link: 'first' }, 'method:b': { linkType: 'direct', link: 'first' } });
  assert.deepEqual([...opened.links.keys()], ['first']);
  assert.equal(opened.links.get('first')!.closed, false);
  await spare.closed; // the runner sees the idle link closed
  assert.equal(opened.warnings.length, 0);
});

test('a required link that could not be opened stops the session start with LINK_FAILED, saying why and how the bearer is configured, and closes the links that did open', async (t) => {
  const up = await linkPeer(t, 'welcome');
  const gone = nobody();
  const ri = instructions({ up: up.address, pinned: gone }, { 'method:a': [direct('up'), SERVER], 'method:b': [direct('pinned', true)] });
  await assert.rejects(open(t, ri), (e: PeerwayError) => {
    assert.equal(e.code, 'LINK_FAILED');
    assert.equal(
      e.message,
      `service Lab requires the direct ${MEMORY} link "pinned" for method "b", and it could not be opened: nothing listens on memory://${gone.path} in this process ` +
        `(memory:// reaches only listeners of the same process). ${getBearer(MEMORY).howToConfigure}`,
    );
    assert.deepEqual(e.details, { service: 'Lab', resource: 'method:b', link: 'pinned', bearer: MEMORY });
    return true;
  });
  await up.closed; // the runner sees the link that did open closed
});

test('a link the routing instructions do not name cannot be dialled: PROTOCOL, naming the service and the link', () => {
  const ri = instructions({ up: nobody() }, { 'method:a': [direct('up'), SERVER] });
  assert.throws(
    () => linkDialer(ri, 'other', { adapters: {}, timeoutMs: TIMEOUT_MS }),
    (e: unknown) => e instanceof PeerwayError && e.code === 'PROTOCOL' && e.message === 'the routing instructions of Lab have no link "other"',
  );
});
