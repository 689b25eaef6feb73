/**
 * Every error as JSON `{ error: { code, message } }`: what the client sent (400–415), a busy or
 * timed-out queue (503 with Retry-After), a client that went away (answered to nobody, counted as
 * 499), and internal errors (500, logged, never leaking details).
 *
 * @example
 * app.onError(errorHandler); app.notFound(notFound);
 */
import type { Context, ErrorHandler, NotFoundHandler } from 'hono';
import { InputError } from '@rdc/core/runtime';
import { brief, ClientGoneError, errorBody, RequestError } from '../http/errors.js';
import { QueueFullError, ShutdownError, TimeoutError } from '../queue.js';

/** Whether Node's HTTP parser refused this request's bytes (server.ts marks the socket): it has answered 400 already. */
function refusedByParser(c: Context): boolean {
  return Boolean((c.env as { incoming?: { socket?: { refusedByParser?: boolean } } } | undefined)?.incoming?.socket?.refusedByParser);
}

export const errorHandler: ErrorHandler = (err, c: Context) => {
  if (refusedByParser(c)) {
    c.set('refusedByParser' as never, true as never);
    return c.json(errorBody('bad_request', 'the request is not valid HTTP'), 400);
  }
  if (c.req.raw.signal.aborted || (err as Error & { code?: string }).code === 'ECONNRESET' || (err as Error).message === 'aborted') {
    c.set('clientGone' as never, true as never);
    return c.json(errorBody('client_closed', 'the client closed the connection'), 400);
  }
  const a = errorAnswer(err);
  if (a.clientGone) c.set('clientGone' as never, true as never);
  return c.json(errorBody(a.code, a.message), a.status as 400, a.headers);
};

/**
 * The answer to an error: its status, code, message and headers (what the client sent, a busy or
 * timed-out queue, a client gone, else an internal error: logged, never leaking details). The
 * error handler answers with it; a stream that has started (server-sent events) sends it as an event.
 */
export function errorAnswer(err: unknown): { status: number; code: string; message: string; headers?: Record<string, string>; clientGone?: boolean } {
  if (err instanceof RequestError) return { status: err.status, code: err.code, message: err.message };
  if (err instanceof InputError) return { status: 400, code: err.code, message: err.message };
  if (err instanceof ClientGoneError) return { status: 400, code: 'client_closed', message: 'the client closed the connection', clientGone: true };
  if (err instanceof QueueFullError)
    return {
      status: 503,
      code: 'busy',
      message: `${err.message}; retry after ${err.retryAfterSeconds} s`,
      headers: { 'Retry-After': String(err.retryAfterSeconds) },
    };
  if (err instanceof TimeoutError) return { status: 503, code: 'timeout', message: err.message, headers: { 'Retry-After': '5' } };
  if (err instanceof ShutdownError) return { status: 503, code: 'shutting_down', message: err.message, headers: { 'Retry-After': '5' } };
  // Never leak internals: log the error, answer a generic message.
  process.stderr.write(`${JSON.stringify({ level: 50, msg: 'internal error', error: String(err), stack: (err as Error).stack })}\n`);
  return { status: 500, code: 'internal', message: 'internal error' };
}

export const notFound: NotFoundHandler = (c) => c.json(errorBody('not_found', `no route ${brief(c.req.method, 20)} ${brief(c.req.path, 80)}`), 404);
