import { Command } from '@commander-js/extra-typings';
import { cacheDir, CIFAR10_ARCHIVE, downloadDataset } from '@rdc/train';
import { createLogger } from '../util/log.js';
import { progressBar, type Bar } from '../util/progress.js';

/** `rdc download-data`: the official CIFAR-10 binary archive, verified and unpacked. */
export function downloadDataCommand() {
  return new Command('download-data')
    .description('download CIFAR-10 (binary version) into a cache folder, verify it and unpack it; resumable')
    .option('--cache-dir <dir>', 'where to put it (env RDC_CACHE_DIR, default ~/.cache/rdc)')
    .option('--url <url>', 'archive URL', CIFAR10_ARCHIVE.url)
    .option('--md5 <hex>', 'expected md5 of the archive (the official archive: built in)')
    .option('--sha256 <hex>', 'expected sha256 of the archive')
    .action(async (opts) => {
      const log = createLogger('download-data');
      let bar: Bar | null = null;
      const dir = await downloadDataset({
        cacheDir: opts.cacheDir ?? cacheDir(),
        url: opts.url,
        md5: opts.md5 ?? (opts.url === CIFAR10_ARCHIVE.url && !opts.sha256 ? CIFAR10_ARCHIVE.md5 : undefined),
        sha256: opts.sha256,
        onLog: (msg) => log.info(msg),
        onProgress: (got, total) => {
          bar ??= progressBar('download', total ?? got, { unit: 'bytes' });
          if (total) bar.setTotal(total);
          bar.update(got);
        },
      });
      (bar as Bar | null)?.stop();
      process.stdout.write(`CIFAR-10 is in ${dir}\nuse it with --data-dir ${dir} or RDC_DATA_DIR=${dir}\n`);
    });
}
