// Implementation of bench-udp.xml (see bench-service.mjs).
import { makeBenchService } from './bench-service.mjs';

export default makeBenchService();
