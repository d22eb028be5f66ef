// What a <video> in the page shows (issue 22): frames its decoder counted, its size, and the colour
// where baresip's fakevideo test card draws its red, green and blue bars (1/6, 1/2 and 5/6 across,
// half-way down). baresip 1.0 sends a still card, so frames are counted by the decoder, not by pixel
// change, and the picture is checked by colour.
import type { Locator } from 'playwright-core';

export type Rgb = [number, number, number];

export interface Picture {
  frames: number;
  width: number;
  height: number;
  bars: [Rgb, Rgb, Rgb];
}

export function picture(video: Locator): Promise<Picture> {
  return video.evaluate((v: HTMLVideoElement) => {
    const c = document.createElement('canvas');
    c.width = v.videoWidth;
    c.height = v.videoHeight;
    const g = c.getContext('2d', { willReadFrequently: true })!;
    g.drawImage(v, 0, 0);
    const at = (fx: number) => [...g.getImageData(Math.round(c.width * fx), Math.round(c.height / 2), 1, 1).data.slice(0, 3)] as [number, number, number];
    return { frames: v.getVideoPlaybackQuality().totalVideoFrames, width: v.videoWidth, height: v.videoHeight, bars: [at(1 / 6), at(0.5), at(5 / 6)] as [Rgb, Rgb, Rgb] };
  });
}

/** The card's bars where they belong: red, then green, then blue. */
export function isTestCard(p: Pick<Picture, 'bars'>): boolean {
  const is = (px: Rgb, ch: 0 | 1 | 2) => px[ch] > 150 && px.every((v, i) => i === ch || v < 110);
  return is(p.bars[0], 0) && is(p.bars[1], 1) && is(p.bars[2], 2);
}

export const rgb = (p: Picture): string => p.bars.map((x) => `rgb(${x.join(',')})`).join(' ');

/** How many different pictures the <video> showed in `samples` looks `everyMs` apart (each drawn at
 *  32x24 and compared whole): frames counted by pixel change, for a source that moves. */
export async function changes(video: Locator, samples = 10, everyMs = 200): Promise<number> {
  const seen = new Set<string>();
  for (let i = 0; i < samples; i++) {
    seen.add(
      await video.evaluate((v: HTMLVideoElement) => {
        const c = document.createElement('canvas');
        c.width = 32;
        c.height = 24;
        const g = c.getContext('2d', { willReadFrequently: true })!;
        g.drawImage(v, 0, 0, 32, 24);
        return Array.from(g.getImageData(0, 0, 32, 24).data, (x) => x >> 4).join(',');
      }),
    );
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return seen.size;
}
