import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createProgram } from '@rdc/cli/program';
import { DockerfileParser } from 'dockerfile-ast';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { Job } from 'kubernetes-models/batch/v1/Job';
import { PersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import { Service } from 'kubernetes-models/v1/Service';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';

/**
 * The container image and the cluster files: the Dockerfile parsed, the Kubernetes manifests
 * validated against typed models of the Kubernetes API, the Slurm script checked by bash -n and
 * its #SBATCH lines read, and every rdc command line in them parsed by the CLI's own options.
 */
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const read = (p: string) => readFileSync(join(root, p), 'utf8');
const docs = (p: string) => parseAllDocuments(read(p)).map((d) => d.toJS() as Record<string, unknown>);

/** Throws unless `args` is an rdc command whose every --option exists (a typo in a manifest fails here, not on the cluster). */
function checkRdcArgs(args: string[]): void {
  const cmd = createProgram().commands.find((c) => c.name() === args[0]);
  if (!cmd) throw new Error(`no rdc command '${args[0]}'`);
  for (const a of args.slice(1))
    if (a.startsWith('--') && !cmd.options.some((o) => o.long === a.split('=')[0])) throw new Error(`rdc ${args[0]} has no option ${a}`);
}

type Container = { args: string[]; resources?: { requests?: Record<string, string> } };
const containersOf = (o: { spec: { template: { spec: { containers: Container[] } } } }) => o.spec.template.spec.containers;

describe('deployment files', () => {
  it('the Dockerfile: multi-stage, a non-root user, the model folder copied in, rdc as the entry point and serve on 0.0.0.0 by default', () => {
    const df = DockerfileParser.parse(read('Dockerfile'));
    const ins = df.getInstructions();
    expect(ins.filter((i) => i.getKeyword() === 'FROM').length).toBeGreaterThanOrEqual(2);
    const last = ins.map((i) => i.getKeyword()).lastIndexOf('FROM');
    const runtime = ins.slice(last);
    const user = runtime.filter((i) => i.getKeyword() === 'USER').map((i) => i.getArgumentsContent());
    expect(user.length).toBe(1);
    expect(user[0]).not.toMatch(/^(root|0)(:|$)/);
    expect(runtime.some((i) => i.getKeyword() === 'COPY' && /models\/default\s+\/app\/models\/default/.test(i.getArgumentsContent() ?? ''))).toBe(true);
    const json = (k: string) => JSON.parse(runtime.find((i) => i.getKeyword() === k)!.getArgumentsContent()!) as string[];
    expect(json('ENTRYPOINT')).toEqual(['node', '/app/dist/main.js']);
    const cmd = json('CMD');
    expect(cmd.slice(0, 3)).toEqual(['serve', '--host', '0.0.0.0']);
    checkRdcArgs(cmd);
    // The USER comes before the entry point, so nothing runs as root.
    expect(runtime.findIndex((i) => i.getKeyword() === 'USER')).toBeLessThan(runtime.findIndex((i) => i.getKeyword() === 'ENTRYPOINT'));
  });

  it('the Kubernetes manifests validate against the API models; the attack Job is Indexed with --shards equal to its completions', () => {
    const [job] = docs('deploy/k8s/attack-job.yaml');
    new Job(job as never).validate();
    const spec = job.spec as { completionMode: string; completions: number; template: { spec: { containers: Container[] } } };
    expect(spec.completionMode).toBe('Indexed');
    const args = containersOf(job as never)[0].args;
    checkRdcArgs(args);
    expect(args[0]).toBe('attack');
    expect(Number(args[args.indexOf('--shards') + 1])).toBe(spec.completions);
    expect(containersOf(job as never)[0].resources?.requests?.cpu).toBeTruthy();

    const [merge] = docs('deploy/k8s/merge-job.yaml');
    new Job(merge as never).validate();
    const margs = containersOf(merge as never)[0].args;
    checkRdcArgs(margs);
    // The merge reads the folder the attack shards write.
    expect(margs[1]).toBe(args[args.indexOf('--out') + 1]);

    const [pvc] = docs('deploy/k8s/results-pvc.yaml');
    new PersistentVolumeClaim(pvc as never).validate();
    const claims = (o: Record<string, unknown>) =>
      (o.spec as { template: { spec: { volumes: { persistentVolumeClaim: { claimName: string } }[] } } }).template.spec.volumes;
    expect(claims(job)[0].persistentVolumeClaim.claimName).toBe((pvc.metadata as { name: string }).name);

    const [deployment, service] = docs('deploy/k8s/serve.yaml');
    new Deployment(deployment as never).validate();
    new Service(service as never).validate();
    const t = (
      deployment.spec as { template: { metadata: { annotations: Record<string, string> }; spec: { containers: (Container & Record<string, never>)[] } } }
    ).template;
    expect(t.metadata.annotations).toMatchObject({ 'prometheus.io/scrape': 'true', 'prometheus.io/path': '/metrics' });
    const c = t.spec.containers[0] as unknown as Container & { livenessProbe: { httpGet: { path: string } }; readinessProbe: { httpGet: { path: string } } };
    expect(c.livenessProbe.httpGet.path).toBe('/healthz');
    expect(c.readinessProbe.httpGet.path).toBe('/readyz');
    expect(c.resources?.requests?.cpu).toBeTruthy();
    checkRdcArgs(c.args);
    // An invalid manifest is refused (the validation can fail).
    expect(() => new Job({ ...job, spec: { ...spec, completions: 'sixteen' } } as never).validate()).toThrow(/completions/);
  });

  it.each(['attack-array.sh', 'certify-array.sh'])('the Slurm array script %s passes bash -n, asks for one CPU and an array, and its rdc command parses', (script) => {
    execFileSync('bash', ['-n', join(root, 'deploy/slurm', script)]);
    const text = read(`deploy/slurm/${script}`);
    const sbatch = Object.fromEntries([...text.matchAll(/^#SBATCH\s+--([\w-]+)(?:=(\S+))?/gm)].map((m) => [m[1], m[2] ?? true]));
    expect(sbatch.array).toMatch(/^\d+-\d+$/);
    expect(sbatch['cpus-per-task']).toBe('1');
    expect(sbatch.mem).toMatch(/^\d+G$/);
    const line = /exec "\$\{RDC\[@\]\}" (.+?)\s*$/s.exec(text.replace(/\\\n\s*/g, ' '))![1];
    checkRdcArgs(line.split(/\s+/).map((a) => a.replace(/^"|"$/g, '')));
  });
});
