/**
 * An error caused by what the caller passed (a bad option, image, shape or file), as opposed to a
 * failure while running. The CLI exits with code 2 on it; the HTTP API answers 4xx with its `code`.
 *
 * @example
 * throw new InputError('pixels must be in [0, 1]', 'bad_pixels');
 */
export class InputError extends Error {
  constructor(
    message: string,
    readonly code = 'bad_input',
  ) {
    super(message);
    this.name = 'InputError';
  }
}
