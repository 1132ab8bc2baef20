// A typed client of the Climate service (examples/climate.xml), written against the module that
// `peerway codegen examples/climate.xml --out examples/generated` wrote: the compiler checks every
// argument, result, event and runtime-data path below. Run it while a server and the Climate runner are up
// (the README's tutorial): `npx tsx examples/typed-climate-client.ts [server-url]`.
import { connect } from 'peerway';
import { openClimate } from './generated/climate.js';

const url = process.argv[2] ?? 'tcp://127.0.0.1:2002';
const client = await connect(url, { timeoutMs: 5000 });
try {
  const climate = await openClimate(client);

  // Runtime data: `celsius` is a number because cabin.temperature is a float in the definition.
  const temperature = await climate.watch('cabin.temperature', (celsius) => console.log(`cabin.temperature: ${celsius}`));
  console.log(`cabin.temperature now: ${temperature.snapshot}`);

  // Events: the listener gets the event's arguments, typed.
  let overheated: (celsius: number) => void = () => undefined;
  const hot = new Promise<number>((resolve) => (overheated = resolve));
  const overheat = await climate.on('overheat', ({ celsius }) => overheated(celsius));

  // Methods: named arguments in, the result type out.
  const accepted: boolean = await climate.setTemperature({ zone: 1, celsius: 31.5 });
  console.log(`setTemperature accepted: ${accepted}`);
  console.log(`zone 1 target: ${await climate.getTemperature({ zone: 1 })}`);

  const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no overheat event within 10 s')), 10_000).unref());
  console.log(`overheat at ${await Promise.race([hot, timeout])} °C, status: ${await climate.get('status')}`);

  await climate.reset();
  await overheat.close();
  await temperature.close();
  await climate.stop();
} finally {
  await client.close();
}
