import { liveness, readiness } from '../core/health';
import { httpHandler } from './http';

/** Health probes: no token needed. */
export const handler = httpHandler('health', {
  getLiveness: () => liveness(),
  getReadiness: () => readiness(),
});
