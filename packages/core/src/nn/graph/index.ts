/** The graph description: its types, shape algebra, builder and cost (one module each). */
export * from './types.js';
export * from './shapes.js';
export * from './builder.js';
export * from './cost.js';
