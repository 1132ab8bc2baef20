// Implementation of examples/forked-runtime-data.xml, the seed's ForkedRuntimeData example:
// it only publishes runtime data (a counter), which its routing sends both directly and to the server.
let timer;

export default {
  start(service) {
    timer = setInterval(() => service.set('value', service.get('value') + 1), 1000);
  },
  stop() {
    clearInterval(timer);
  },
};
