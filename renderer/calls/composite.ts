// The consultation's multi-picture (多画面), composed on the convening panel and sent to the video
// terminals (issue 22). The platform's MCU composes continuous presence itself; the bridge standing
// for it here forwards one picture and composes none, so the panel, which already receives every
// city's camera, draws them with the hall's own camera into one picture (a grid, each cell labelled)
// and publishes that: every terminal with a screen then sees the hall and the others. The panel's
// thumbnails register their <video> here while they play; a city without a picture is a dark cell.
import { reactive } from 'vue';
import type { HubClient } from '../hub/client.ts';
import { gathered } from './headset.ts';

/** Pictures this page shows now, by contact. */
export const shown = new Map<string, { name: string; el: HTMLVideoElement }>();
/** The consultation this page sends the picture of, or null. */
export const sending = reactive<{ consultation: string | null; detail: string }>({ consultation: null, detail: '' });

const W = 640;
const H = 480;
let stopNow: (() => void) | null = null;

/** Draw one frame: the hall first, then each participant in the consultation's order. */
function draw(g: CanvasRenderingContext2D, cells: { name: string; el: HTMLVideoElement | null }[]): void {
  const n = Math.max(1, Math.ceil(Math.sqrt(cells.length)));
  const w = W / n;
  const h = H / n;
  g.fillStyle = '#111';
  g.fillRect(0, 0, W, H);
  cells.forEach((c, i) => {
    const x = (i % n) * w;
    const y = Math.floor(i / n) * h;
    const v = c.el;
    if (v && v.videoWidth && v.videoHeight) {
      const s = Math.min(w / v.videoWidth, h / v.videoHeight);
      const dw = v.videoWidth * s;
      const dh = v.videoHeight * s;
      g.drawImage(v, x + (w - dw) / 2, y + (h - dh) / 2, dw, dh);
    }
    g.fillStyle = 'rgba(0,0,0,0.6)';
    g.fillRect(x, y + h - 18, w, 18);
    g.fillStyle = '#fff';
    g.font = '12px sans-serif';
    g.fillText(c.name, x + 4, y + h - 5);
  });
}

/** Start sending: `cities` gives the participants in order (a contact id and its name). */
export async function sendPicture(hub: HubClient, consultation: string, hall: string, cities: () => { id: string; name: string }[]): Promise<void> {
  stopPicture();
  sending.detail = '';
  let cam: MediaStream | null = null;
  try {
    cam = await navigator.mediaDevices.getUserMedia({ video: { width: 320, height: 240 } });
  } catch {
    cam = null; // no camera on this panel: the cities only, the hall's cell dark
  }
  const camEl = document.createElement('video');
  camEl.muted = true;
  camEl.playsInline = true;
  if (cam) {
    camEl.srcObject = cam;
    void camEl.play();
  }
  const canvas = document.createElement('canvas');
  canvas.width = W;
  canvas.height = H;
  const g = canvas.getContext('2d')!;
  const frame = () => draw(g, [{ name: hall, el: cam ? camEl : null }, ...cities().map((c) => ({ name: c.name, el: shown.get(c.id)?.el ?? null }))]);
  frame();
  const timer = setInterval(frame, 100);
  const stream = canvas.captureStream(10);
  const pc = new RTCPeerConnection({ iceServers: [] });
  pc.addTransceiver(stream.getVideoTracks()[0]!, { direction: 'sendonly', streams: [stream] });
  let told = false;
  const stop = () => {
    clearInterval(timer);
    pc.close();
    for (const t of [...stream.getTracks(), ...(cam?.getTracks() ?? [])]) t.stop();
    if (told) void hub.command('consult.unpicture', { id: consultation }).catch(() => undefined);
    told = false;
  };
  stopNow = stop;
  sending.consultation = consultation;
  try {
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc);
    const { answer } = await hub.command('consult.picture', { id: consultation, sdp: pc.localDescription!.sdp });
    told = true;
    await pc.setRemoteDescription({ type: 'answer', sdp: answer });
  } catch (e) {
    stopPicture();
    sending.detail = (e as Error).message;
  }
}

export function stopPicture(): void {
  stopNow?.();
  stopNow = null;
  sending.consultation = null;
}
