/**
 * The models a server serves, by name (their folders' names): `default` unless a request names
 * another (`model`).
 *
 * @example
 * const models = new ModelRegistry([await ServedModel.load('models/default'), await ServedModel.load('models/cnn')]);
 * models.get('cnn').name; // 'cnn'
 */
import { InputError } from '@rdc/core/runtime';
import type { ServedModel } from './served-model.js';

export class ModelRegistry {
  private readonly byName = new Map<string, ServedModel>();

  constructor(services: ServedModel[]) {
    if (services.length === 0) throw new Error('a server needs at least one model');
    for (const s of services) {
      if (this.byName.has(s.name)) throw new InputError(`two models are named '${s.name}': give each folder its own name`, 'bad_model');
      this.byName.set(s.name, s);
    }
  }

  /** The model a request names; without a name, `default` (or the only model). */
  get(name?: string): ServedModel {
    if (name === undefined) return this.byName.get('default') ?? this.list()[0];
    const s = this.byName.get(name);
    if (!s) throw new ModelNotFoundError(name, [...this.byName.keys()]);
    return s;
  }

  list(): ServedModel[] {
    return [...this.byName.values()];
  }
}

export class ModelNotFoundError extends Error {
  constructor(name: string, names: string[]) {
    super(`no model named '${name.slice(0, 64)}': this server has ${names.join(', ')}`);
  }
}
