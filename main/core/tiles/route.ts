// /tiles/<source>/<z>/<x>/<y>[.png|.jpg|.terrain] (and a terrain source's /tiles/<source>/layer.json)
// as an HTTP answer: the same for serve mode's route and the
// Electron shell's app://beacon/tiles/… protocol, so both are tested by the serve-mode tests.
import type { TileService } from './service.ts';

export interface TileHttpAnswer {
  status: number;
  headers: Record<string, string>;
  body: Buffer | string;
}

const json = (status: number, error: string): TileHttpAnswer => ({
  status,
  headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' },
  body: JSON.stringify({ error }),
});

export async function tileRoute(tiles: TileService, pathname: string): Promise<TileHttpAnswer> {
  const layer = /^\/tiles\/([a-z0-9-]{1,32})\/layer\.json$/.exec(pathname);
  if (layer) {
    const doc = await tiles.layerJson(layer[1]!);
    if (doc === null) return json(404, `no terrain layer ${layer[1]} (not a terrain source, or never reached and not cached)`);
    return { status: 200, headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' }, body: doc };
  }
  const m = /^\/tiles\/([a-z0-9-]{1,32})\/(\d{1,2})\/(\d{1,7})\/(\d{1,7})(?:\.(?:png|jpg|jpeg|terrain))?$/.exec(pathname);
  if (!m) return json(400, 'tile paths are /tiles/<source>/<z>/<x>/<y>');
  const a = await tiles.tile(m[1]!, { z: Number(m[2]), x: Number(m[3]), y: Number(m[4]) });
  if (a.kind === 'missing') return json(404, a.reason);
  return {
    status: 200,
    headers: {
      'content-type': a.type,
      'content-length': String(a.data.length),
      'x-content-type-options': 'nosniff',
      // A stand-in cut from a coarser tile must never be kept: the real one replaces it later.
      'cache-control': a.kind === 'coarser' ? 'no-store' : 'private, max-age=86400',
      'x-beacon-tile': a.kind === 'coarser' ? `coarser; z=${a.from}` : a.kind,
    },
    body: a.data,
  };
}
