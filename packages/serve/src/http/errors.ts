/**
 * The API's errors: `RequestError` (what the client sent is wrong: answered with its status and the
 * JSON body `{ error: { code, message } }`), with echoed values cut short.
 *
 * @example
 * throw new RequestError(400, 'bad_options', `query.levels: ${brief(value)} is not a number`);
 */
import type { z } from 'zod';

/** An error in what the client sent: the API answers it with `status` and `{ error: { code, message } }`. */
export class RequestError extends Error {
  constructor(
    readonly status: 400 | 403 | 404 | 405 | 413 | 415,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The client went away before its request was read: nobody is left to answer (counted as 499). */
export class ClientGoneError extends Error {}

/** The JSON error body. */
export const errorBody = (code: string, message: string) => ({ error: { code, message } });

/** A value as it may appear inside an error message: JSON, at most `max` characters. */
export function brief(value: unknown, max = 80): string {
  let s: string;
  try {
    s = typeof value === 'string' ? JSON.stringify(value.length > max ? value.slice(0, max) : value) : (JSON.stringify(value) ?? String(value));
  } catch {
    s = String(value);
  }
  return s.length > max ? `${s.slice(0, max)}…` : s;
}

/** zod issues as one short message naming each field. */
export function issuesMessage(error: z.ZodError, prefix = ''): string {
  const parts = error.issues.slice(0, 5).map((i) => {
    const path = [prefix, ...i.path.map(String)].filter(Boolean).join('.') || '(body)';
    const keys =
      i.code === 'unrecognized_keys'
        ? `unknown field${i.keys.length > 1 ? 's' : ''} ${i.keys
            .slice(0, 5)
            .map((k) => brief(k, 40))
            .join(', ')}`
        : i.message;
    return `${path}: ${keys}`;
  });
  const more = error.issues.length > 5 ? `; and ${error.issues.length - 5} more` : '';
  return `${parts.join('; ')}${more}`.slice(0, 600);
}

/** Parses a value against a schema (400 naming the fields on failure). */
export function parseWith<T extends z.ZodType>(schema: T, value: unknown, code = 'bad_json', prefix = ''): z.infer<T> {
  const r = schema.safeParse(value);
  if (!r.success) throw new RequestError(400, code, issuesMessage(r.error, prefix));
  return r.data;
}
