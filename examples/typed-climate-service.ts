// The Climate service (examples/climate.xml) implemented as a class against the generated module
// (`peerway codegen examples/climate.xml --out examples/generated`): the compiler checks every handler's
// arguments and result, and every `set`, `get` and `emit`. It does what climate.mjs does. Run it in place
// of climate.mjs: `npx peerway runner examples/climate.xml --impl examples/typed-climate-service.ts`.
import type { ClimateService, ClimateServiceApi } from './generated/climate.js';

class Climate implements ClimateService {
  readonly #targets = new Map<number, number>(); // zone → target temperature
  #service: ClimateServiceApi | undefined;
  #timer: NodeJS.Timeout | undefined;

  // An own property holding arrow functions, so each handler sees this instance.
  readonly methods: ClimateService['methods'] = {
    setTemperature: ({ zone, celsius }) => {
      if (celsius < 5 || celsius > 40) return false; // outside what the hardware accepts
      this.#targets.set(zone, celsius);
      return true;
    },
    getTemperature: ({ zone }, ctx) => this.#targets.get(zone) ?? ctx.service.get('cabin.temperature'),
    reset: (_args, ctx) => {
      this.#targets.clear();
      ctx.service.set('cabin', { temperature: 21, fan: 2 });
      ctx.service.set('status', 'ok');
    },
  };

  start(service: ClimateServiceApi): void {
    this.#service = service;
    // A tiny simulation: the cabin drifts towards zone 1's target and the fan follows the gap.
    this.#timer = setInterval(() => this.#step(service), 500);
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#service = undefined;
  }

  #step(service: ClimateServiceApi): void {
    if (this.#service !== service) return;
    const current = service.get('cabin.temperature');
    const target = this.#targets.get(1) ?? current;
    if (Math.abs(target - current) < 0.05) return;
    const next = Math.round((current + (target - current) * 0.5) * 10) / 10;
    service.set('cabin.temperature', next);
    const fan = Math.min(5, Math.max(1, Math.round(Math.abs(target - next))));
    if (fan !== service.get('cabin.fan')) {
      service.set('cabin.fan', fan);
      service.emit('fanChanged', { level: fan });
    }
    const status = next > 30 ? 'hot' : 'ok';
    if (status !== service.get('status')) service.set('status', status);
    if (status === 'hot') service.emit('overheat', { celsius: next });
  }
}

export default new Climate();
