/**
 * The models a server serves, by name (their folders' names): `default` unless a request names
 * another (`model`), and each model's work limit per request.
 *
 * @example
 * const models = new ModelRegistry([await InferenceService.load('models/default'), await InferenceService.load('models/cnn')]);
 * models.get('cnn').classify(pixels, {});
 */
import { InputError } from '@rdc/core/runtime';
import type { InferenceService } from './inference.js';

export class ModelRegistry {
  private readonly byName = new Map<string, InferenceService>();

  constructor(services: InferenceService[]) {
    if (services.length === 0) throw new Error('a server needs at least one model');
    for (const s of services) {
      if (this.byName.has(s.name)) throw new InputError(`two models are named '${s.name}': give each folder its own name`, 'bad_model');
      this.byName.set(s.name, s);
    }
  }

  /** The model a request names; without a name, `default` (or the only model). */
  get(name?: string): InferenceService {
    if (name === undefined) return this.byName.get('default') ?? this.list()[0];
    const s = this.byName.get(name);
    if (!s) throw new ModelNotFoundError(name, [...this.byName.keys()]);
    return s;
  }

  list(): InferenceService[] {
    return [...this.byName.values()];
  }
}

export class ModelNotFoundError extends Error {
  constructor(name: string, names: string[]) {
    super(`no model named '${name.slice(0, 64)}': this server has ${names.join(', ')}`);
  }
}
