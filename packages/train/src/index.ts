export * from './data/cifar10.js';
export * from './data/split.js';
export * from './data/download.js';
export * from './data/paths.js';
