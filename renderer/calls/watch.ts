// A consultation participant's camera, received from the conference bridge (issue 22). The bridge
// takes each video terminal's picture (plain RTP) and serves it by WebRTC: it offers, this display
// answers (`consult.watch`, `consult.watched`), and the picture comes from the bridge, not through
// the hall. Used by the wall's consultation tiles and the call panel's thumbnails.
import type { HubClient } from '../hub/client.ts';
import { gathered } from './headset.ts';

/** Start receiving; `show` gets the picture. Resolves to the function that stops it. */
export async function watchCamera(hub: HubClient, consultation: string, member: string, show: (s: MediaStream) => void): Promise<() => void> {
  const { watch, offer } = await hub.command('consult.watch', { id: consultation, member });
  const pc = new RTCPeerConnection({ iceServers: [] });
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    pc.close();
    void hub.command('consult.unwatch', { watch }).catch(() => undefined);
  };
  try {
    pc.ontrack = (e) => show(new MediaStream([e.track]));
    await pc.setRemoteDescription({ type: 'offer', sdp: offer });
    await pc.setLocalDescription(await pc.createAnswer());
    await gathered(pc);
    await hub.command('consult.watched', { watch, sdp: pc.localDescription!.sdp });
  } catch (e) {
    close();
    throw e;
  }
  return close;
}
