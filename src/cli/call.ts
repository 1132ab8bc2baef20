import { Command } from 'commander';
import { PeerwayError } from '../errors.js';
import type { MethodDef, ServiceDefinition } from '../definition/model.js';
import { fromJsonValue, parseTextValue, toJsonValue } from '../definition/value-text.js';
import { didYouMean } from '../definition/did-you-mean.js';
import { addServerOption, printLine, reportError, EXIT_OK } from './common.js';
import { methodLines } from './describe.js';
import { addClientBearerOptions, startSessionWithHint, withClient, type ClientCliOptions } from './with-client.js';

interface CallCliOptions extends ClientCliOptions {
  json?: string;
  verbose?: boolean;
}

export function callCommand(setExit: (code: number) => void): Command {
  const cmd = new Command('call')
    .description('call a method and print its result as JSON')
    .argument('<service>', 'service name')
    .argument('[method]', 'method name (without one, lists the methods and exits 2)')
    .argument('[args...]', 'arguments as name=value (structs and lists as JSON, binary as base64 or hex:…)')
    .option('--json <object>', 'all arguments as one JSON object instead of name=value pairs')
    .option('-v, --verbose', 'also print, on stderr, the routing instructions received and the route taken')
    .addHelpText('after', '\nExample: peerway call --server tcp://127.0.0.1:2002 Climate setTemperature zone=1 celsius=22.5');
  addServerOption(cmd);
  addClientBearerOptions(cmd);
  cmd.action(async (service: string, method: string | undefined, pairs: string[], opts: CallCliOptions) => {
    try {
      await withClient('call', opts, async (client) => {
        const session = await startSessionWithHint(client, service);
        if (method === undefined) {
          await session.stop().catch(() => undefined);
          throw new PeerwayError(
            'USAGE',
            `no method given; ${service} has these methods:\n${methodLines(session.definition).join('\n')}\n` +
              `usage: peerway call [options] ${service} <method> [name=value...]  (peerway describe ${service} also shows events and runtime data)`,
          );
        }
        if (opts.verbose) {
          process.stderr.write(`session ${session.id} with ${session.service} (${session.location})\n`);
          process.stderr.write(session.routing ? `routing instructions:\n${session.routing}\n` : 'routing instructions: none (every resource via the server)\n');
        }
        const def = session.definition.methods.get(method);
        if (!def) {
          const known = [...session.definition.methods.keys()].join(', ') || 'none';
          await session.stop().catch(() => undefined);
          throw new PeerwayError('METHOD_NOT_FOUND', `service ${service} has no method "${method}"${didYouMean(method, session.definition.methods.keys())} (methods: ${known})`);
        }
        if (opts.verbose) {
          const r = session.routeFor('method', method);
          process.stderr.write(`route for ${service}.${method}: ${r.linkType === 'direct' ? `direct, link ${r.link} (${r.bearer})` : 'server'}\n`);
        }
        const args = opts.json !== undefined ? jsonArgs(session.definition, def, parseJsonArgs(opts.json)) : parsePairs(session.definition, def, pairs);
        const result = await session.call(method, args);
        await printLine(JSON.stringify(toJsonValue(result) ?? null));
        await session.stop();
      });
      setExit(EXIT_OK);
    } catch (err) {
      setExit(reportError('call', err));
    }
  });
  return cmd;
}

function parseJsonArgs(text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new PeerwayError('USAGE', `--json is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new PeerwayError('USAGE', '--json must be a JSON object of arguments, e.g. {"zone":1}');
  }
  return value as Record<string, unknown>;
}

/** JSON arguments converted by type: base64/`hex:` strings to bytes, decimal strings to int64. */
function jsonArgs(definition: ServiceDefinition, method: MethodDef, json: Record<string, unknown>): Record<string, unknown> {
  const args: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(json)) {
    const field = method.arguments.find((a) => a.name === name);
    // Unknown names are passed through so the call reports them with the list of valid arguments.
    args[name] = field ? fromJsonValue(definition, field.type, value, `${definition.name}.${method.name} argument "${name}"`) : value;
  }
  return args;
}

/** `name=value` pairs, each parsed according to the argument's declared type. */
function parsePairs(definition: ServiceDefinition, method: MethodDef, pairs: string[]): Record<string, unknown> {
  const args: Record<string, unknown> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) {
      const expected = method.arguments.map((a) => `${a.name}=<${a.type.name}${a.type.repeated ? '[]' : ''}>`).join(' ') || '(none)';
      throw new PeerwayError('USAGE', `argument "${pair}" is not name=value; ${definition.name}.${method.name} takes ${expected}`);
    }
    const name = pair.slice(0, eq);
    const field = method.arguments.find((a) => a.name === name);
    if (!field) {
      const known = method.arguments.map((a) => a.name).join(', ') || 'none';
      throw new PeerwayError('BAD_ARGUMENT', `${definition.name}.${method.name} has no argument "${name}" (arguments: ${known})`);
    }
    args[name] = parseTextValue(definition, field.type, pair.slice(eq + 1), `${definition.name}.${method.name} argument "${name}"`);
  }
  return args;
}
