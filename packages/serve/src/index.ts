export * from './app.js';
export * from './image.js';
export * from './inference.js';
export * from './queue.js';
export * from './server.js';
export * from './request.js';
