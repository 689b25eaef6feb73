/**
 * Everything of @rdc/core except the TensorFlow.js engine: what a process needs to run models on
 * ONNX Runtime alone (the HTTP API imports this, so it never loads TensorFlow.js).
 */
export * from './errors.js';
export * from './versions.js';
export * from './tensor.js';
export * from './rng/random.js';
export * from './edm/coefficients.js';
export * from './sigma/grid.js';
export * from './sigma/weights.js';
export * from './config/schema.js';
export * from './config/options.js';
export * from './config/runtime.js';
export * from './config/training.js';
export * from './config/serving.js';
export * from './config/evaluation.js';
export * from './nn/graph.js';
export * from './nn/weights.js';
export * from './nn/denoiser-graph.js';
export * from './nn/objectives.js';
export * from './nn/onnx.js';
export * from './nn/autodiff.js';
export * from './nn/optimizer.js';
export * from './engines/engine.js';
export * from './engines/ort.js';
export * from './engines/device.js';
export * from './engines/denoiser.js';
export * from './math/adam.js';
export * from './math/ball.js';
export * from './math/logits.js';
export * from './method/pixels.js';
export * from './method/dc.js';
export * from './method/lm.js';
export * from './method/calibration.js';
export * from './method/guard.js';
export * from './nn/cnn.js';
export * from './model/safetensors.js';
export * from './model/folder.js';
export * from './model/graphs.js';
export * from './config/presets.js';
export * from './method/stats.js';
export * from './method/classifier.js';
export * from './model/classifiers.js';
export * from './model/migrate.js';
export * from './method/edm-sampler.js';
export * from './import/pickle.js';
export * from './import/source.js';
export * from './import/torch.js';
export * from './import/edm.js';

