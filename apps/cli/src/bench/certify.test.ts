import { UNetConfig } from '@rdc/core';
import { describe, expect, it } from 'vitest';
import { benchCertify } from './certify.js';

describe('bench --suite certify', () => {
  it("reports a certification's network passes per second beside the forward passes at the same batch (figures, not targets)", async () => {
    const net = UNetConfig.parse({ arch: 'unet', image: { channels: 3, height: 8, width: 8 }, numClasses: 3, modelChannels: 8, channelMult: [1, 2] });
    const r = await benchCertify(net, { levels: 3, draws: 4, minSeconds: 0.05 });
    expect(r.passesPerDraw).toBe(4);
    expect(r.certifyPassesPerSecond).toBeGreaterThan(0);
    expect(r.forwardPassesPerSecond).toBeGreaterThan(0);
    expect(r.ratios.certifyOverForward).toBeCloseTo(r.certifyPassesPerSecond / r.forwardPassesPerSecond, 1);
  });
});
