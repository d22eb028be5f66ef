// Measuring what a call carried by frequency, not by packet counts (issue 22): a recording's power at
// one frequency, and the WAV files baresip and ffmpeg write.
import { readFileSync } from 'node:fs';

/** Power at `f` Hz in mono 16-bit samples (Goertzel), relative to the signal's total power. */
export function share(samples: Int16Array, rate: number, f: number): number {
  const k = 2 * Math.cos((2 * Math.PI * f) / rate);
  let s1 = 0;
  let s2 = 0;
  let total = 0;
  for (const x of samples) {
    const s0 = x + k * s1 - s2;
    s2 = s1;
    s1 = s0;
    total += x * x;
  }
  const p = s1 * s1 + s2 * s2 - k * s1 * s2;
  return total > 0 ? (2 * p) / (samples.length * total) : 0;
}

/** A WAV's first channel as 16-bit samples, and its rate (PCM only). */
export function readWav(file: string): { rate: number; samples: Int16Array } {
  const b = readFileSync(file);
  const channels = b.readUInt16LE(22);
  const rate = b.readUInt32LE(24);
  let off = 12;
  while (off + 8 <= b.length && b.toString('ascii', off, off + 4) !== 'data') off += 8 + b.readUInt32LE(off + 4);
  const data = b.subarray(off + 8);
  const n = Math.floor(data.length / 2 / channels);
  const samples = new Int16Array(n);
  for (let i = 0; i < n; i++) samples[i] = data.readInt16LE(i * 2 * channels);
  return { rate, samples };
}
