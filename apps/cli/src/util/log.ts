import { pino, type Logger } from 'pino';

/** Structured (JSON) logs on stderr, so stdout stays clean for --json output. Level: $RDC_LOG_LEVEL (info). */
export function createLogger(name: string): Logger {
  return pino({ name, level: process.env.RDC_LOG_LEVEL ?? 'info', base: undefined }, pino.destination(2));
}
