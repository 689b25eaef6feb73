/**
 * The baseline discriminative CNN (for the attacks' undefended comparison): per width, two 3×3
 * convolutions with GroupNorm and ReLU, then 2×2 average pooling; global average pooling and a
 * linear layer to K logits. Input x [N, C, H, W] in model units ([−1, 1]).
 *
 * @example
 * const graph = buildClassifierGraph(CnnConfig.parse({ arch: 'cnn' })); // x → logits [N, 10]
 */
import type { ClassifierNetworkConfig, CnnConfig } from '../config/schema.js';
import { GraphBuilder, type Graph, type V } from './graph/index.js';
import { addImportedClassifier } from './imported.js';
import { groupsFor } from './unet.js';

export function addCnnClassifier(g: GraphBuilder, cfg: CnnConfig, x: V, training = false): V {
  let h = x;
  cfg.widths.forEach((w, level) => {
    for (let j = 0; j < 2; j++) {
      const name = `cnn.${level}.${j}`;
      const cin = h.shape[1] as number;
      const bound = Math.sqrt(6 / (cin * 9)); // He-uniform for ReLU
      const weight = g.param(`${name}.conv.weight`, [w, cin, 3, 3], { kind: 'uniform', bound });
      const bias = g.param(`${name}.conv.bias`, [w], { kind: 'zeros' });
      h = g.conv2d(h, weight, bias);
      const gamma = g.param(`${name}.norm.weight`, [w], { kind: 'ones' });
      const beta = g.param(`${name}.norm.bias`, [w], { kind: 'zeros' });
      h = g.relu(g.groupnorm(h, gamma, beta, groupsFor(w)));
    }
    if (level < cfg.widths.length - 1) h = g.avgpool2(h);
  });
  h = g.reduceMean(h, [2, 3]);
  if (training) h = g.dropout(h, cfg.dropout);
  const last = cfg.widths[cfg.widths.length - 1];
  const w = g.param('cnn.fc.weight', [cfg.numClasses, last], { kind: 'uniform', bound: 1 / Math.sqrt(last) });
  const b = g.param('cnn.fc.bias', [cfg.numClasses], { kind: 'zeros' });
  return g.linear(h, w, b);
}

/** x [N, C, H, W] in model units → `logits` [N, K]: the project's CNN or an imported classifier. */
export function buildClassifierGraph(cfg: ClassifierNetworkConfig): Graph {
  const g = new GraphBuilder();
  const { channels, height, width } = cfg.image;
  const x = g.input('x', ['N', channels, height, width]);
  g.output('logits', cfg.arch === 'imported' ? addImportedClassifier(g, cfg, x) : addCnnClassifier(g, cfg, x));
  return g.build();
}

/** Mean cross-entropy: inputs `x` [N, C, H, W], `labels` one-hot [N, K]; output `loss` (scalar). */
export function crossEntropyGraph(cfg: CnnConfig, opts: { training?: boolean } = {}): Graph {
  const g = new GraphBuilder();
  const { channels, height, width } = cfg.image;
  const x = g.input('x', ['N', channels, height, width]);
  const labels = g.input('labels', ['N', cfg.numClasses]);
  const logp = g.logsoftmax(addCnnClassifier(g, cfg, x, opts.training ?? false), -1);
  g.output('loss', g.neg(g.reduceMean(g.reduceSum(g.mul(logp, labels), [1]), [0])));
  return g.build();
}
