// The hall as its own `beacon serve` process, for the benchmarks: started with `args`, ready once it
// prints where it listens; its URL and access token read from what it prints.
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { packageRoot } from '../../main/core/paths.ts';

/** `root`: the checkout whose hall runs (bench:thin runs the previous commit's beside this one's). */
export async function startHallProcess(args: string[], nodeArgs: string[] = [], root = packageRoot()): Promise<{ hall: ChildProcess; url: string; token: string }> {
  const hall = spawn(process.execPath, [...nodeArgs, join(root, 'main', 'cli.ts'), 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  hall.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  hall.stderr!.on('data', (d: Buffer) => process.stderr.write(d));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setInterval(() => {
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (!m) return;
      clearInterval(timer);
      resolve(m[1]!);
    }, 50);
    hall.once('exit', (c) => reject(new Error(`hall exited ${c}: ${out}`)));
  });
  return { hall, url, token: /open http:\/\/\S+\/\?token=(\S+)/.exec(out)?.[1] ?? '' };
}
