/**
 * `GET /v1/options`: what the page's forms offer, read off the declarations of the options (the
 * one-image attack's fields and limits, the σ level bound, a certification request's defaults), so
 * the page restates none of them.
 */
import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import { CERTIFY_REQUEST_DEFAULTS, CertifyOptions, SigmaLevels } from '@rdc/core/runtime';
import { DEFAULT_EPS, ONE_IMAGE_LIMITS, OneImageAttack, OneImageFields } from '@rdc/attacks';
import { jsonResponse, FormOptions } from '../contract/responses.js';
import { ATTACK_LEVELS } from '../service/attack.js';
import { defineRoute } from './define.js';

export function optionsRoutes(app: OpenAPIHono): void {
  const attack = OneImageFields.parse({});
  const body = {
    levels: { min: SigmaLevels.minValue ?? 2, max: SigmaLevels.maxValue ?? 1000 },
    attack: {
      attacks: OneImageAttack.options,
      attack: attack.attack,
      iterations: { default: attack.iterations, max: ONE_IMAGE_LIMITS.iterations },
      eps: { linf: { default: DEFAULT_EPS.linf, max: ONE_IMAGE_LIMITS.eps.linf }, l2: { default: DEFAULT_EPS.l2, max: ONE_IMAGE_LIMITS.eps.l2 } },
      levels: ATTACK_LEVELS,
      recheck: attack.recheck,
      rule: attack.rule,
    },
    certify: {
      sigma: CertifyOptions.shape.sigma.parse(undefined),
      n0: CERTIFY_REQUEST_DEFAULTS.n0,
      n: CERTIFY_REQUEST_DEFAULTS.n,
      levels: CERTIFY_REQUEST_DEFAULTS.levels,
    },
  };
  defineRoute(
    app,
    createRoute({
      method: 'get',
      path: '/v1/options',
      summary: "The request options' defaults and bounds (what the page's forms offer)",
      responses: { 200: jsonResponse(FormOptions, 'defaults and bounds') },
    }),
    (c) => c.json(body),
  );
}
