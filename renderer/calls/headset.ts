// The officer's headset on a call (issue 22): the call panel's microphone and speaker carry a SIP
// call over WebRTC. The hall core keeps the signalling: it dials with this display's offer
// (`call.dial` with `sdp`). The platform's border controller turns the offer into plain RTP for the
// far end. Once the call is answered, the core hands back the far end's answer (`call.media`).
// docs/calls.md, "Media".
//
// What the panel shows comes from the stack's own statistics, once a second: packets lost, jitter,
// round trip, and the far end's level. Media that stops for 5 s reads 信号中断, not "connected".
import { reactive } from 'vue';
import type { HubClient } from '../hub/client.ts';

export type HeadsetPhase = 'idle' | 'offering' | 'waiting' | 'live' | 'lost' | 'failed';

// Hold silences both directions here and tells the far end by a SIP re-INVITE (a=sendonly).

export interface HeadsetState {
  /** The call this headset carries. */
  call: string | null;
  /** Or the consultation whose mix it is in (the conference bridge's WebRTC participant). */
  mix: string | null;
  phase: HeadsetPhase;
  muted: boolean;
  held: boolean;
  /** The far end's level (0–1, RMS) and the microphone's. */
  level: number;
  micLevel: number;
  lost: number;
  jitterMs: number | null;
  rttMs: number | null;
  /** Seconds since media last arrived (while it is missing). */
  silentS: number;
  /** The far end sends video (a video terminal): shown in the panel (`remoteVideo()`). */
  video: boolean;
  /** Its frames decoded so far, and per second (from the stack's statistics). */
  videoFrames: number;
  videoFps: number | null;
  detail: string;
}

/** A headset with nothing on it (each offer starts from here). */
const IDLE: Readonly<HeadsetState> = {
  call: null,
  mix: null,
  phase: 'idle',
  muted: false,
  held: false,
  level: 0,
  micLevel: 0,
  lost: 0,
  jitterMs: null,
  rttMs: null,
  silentS: 0,
  video: false,
  videoFrames: 0,
  videoFps: null,
  detail: '',
};
export const headset: HeadsetState = reactive({ ...IDLE });

/** Every candidate gathered (the offer or answer crosses SIP or the hub whole; no trickle), or 3 s. */
export function gathered(p: RTCPeerConnection): Promise<void> {
  return new Promise<void>((r) => {
    if (p.iceGatheringState === 'complete') return r();
    p.addEventListener('icegatheringstatechange', () => p.iceGatheringState === 'complete' && r());
    setTimeout(r, 3000);
  });
}

/** The devices chosen in settings (localStorage), or the system's defaults. */
const MIC_KEY = 'beacon.headset.mic';
const SPEAKER_KEY = 'beacon.headset.speaker';
export function chosenDevices(): { mic: string | null; speaker: string | null } {
  return { mic: localStorage.getItem(MIC_KEY), speaker: localStorage.getItem(SPEAKER_KEY) };
}
export function chooseDevices(d: { mic?: string | null; speaker?: string | null }): void {
  for (const [k, v] of [
    [MIC_KEY, d.mic],
    [SPEAKER_KEY, d.speaker],
  ] as const) {
    if (v === undefined) continue;
    if (v) localStorage.setItem(k, v);
    else localStorage.removeItem(k);
  }
}

let pc: RTCPeerConnection | null = null;
let mic: MediaStream | null = null;
let camera: MediaStream | null = null;
let farVideo: MediaStream | null = null;

/** The far end's video on the call, for the panel's <video>. */
export function remoteVideo(): MediaStream | null {
  return farVideo;
}
let player: HTMLAudioElement | null = null;
let audio: AudioContext | null = null;
let meters: { far: AnalyserNode | null; near: AnalyserNode | null } = { far: null, near: null };
let timer: ReturnType<typeof setInterval> | null = null;
let lastPackets = 0;
let lastArrival = 0;
let answered = false;

const MEDIA_LOST_MS = 5000;

function rms(an: AnalyserNode | null): number {
  if (!an) return 0;
  const buf = new Float32Array(an.fftSize);
  an.getFloatTimeDomainData(buf);
  let s = 0;
  for (const x of buf) s += x * x;
  return Math.sqrt(s / buf.length);
}

/** Wall tiles this panel feeds the far end's picture to, by relay id. */
const relays = new Map<string, RTCPeerConnection>();

/** Feed a wall tile the far end's picture over the hall's LAN: answer its offer with the video
 *  track this headset receives (`relay.answer`). The call's media crosses the WAN once. */
export async function serveRelay(hub: HubClient, relay: { id: string; offer: string }): Promise<void> {
  const track = farVideo?.getVideoTracks()[0];
  if (!track) {
    await hub.command('relay.close', { id: relay.id, detail: 'no far-end video on this call' }).catch(() => undefined);
    return;
  }
  if (relays.has(relay.id)) return;
  const rpc = new RTCPeerConnection({ iceServers: [] });
  relays.set(relay.id, rpc);
  try {
    await rpc.setRemoteDescription({ type: 'offer', sdp: relay.offer });
    const tr = rpc.getTransceivers().find((t) => t.receiver.track.kind === 'video');
    if (!tr) throw new Error('the tile asked for no video');
    tr.direction = 'sendonly';
    await tr.sender.replaceTrack(track);
    await rpc.setLocalDescription(await rpc.createAnswer());
    await gathered(rpc);
    await hub.command('relay.answer', { id: relay.id, sdp: rpc.localDescription!.sdp });
  } catch (e) {
    rpc.close();
    relays.delete(relay.id);
    await hub.command('relay.close', { id: relay.id, detail: (e as Error).message.slice(0, 300) }).catch(() => undefined);
  }
}

/** Stop feeding tiles that are gone (`keep`: the relays still asked for). */
export function pruneRelays(keep: ReadonlySet<string>): void {
  for (const [id, rpc] of relays)
    if (!keep.has(id)) {
      rpc.close();
      relays.delete(id);
    }
}

function close(): void {
  pruneRelays(new Set());
  beforeHold = null;
  if (timer) clearInterval(timer);
  timer = null;
  pc?.close();
  pc = null;
  for (const t of [...(mic?.getTracks() ?? []), ...(camera?.getTracks() ?? [])]) t.stop();
  mic = null;
  camera = null;
  farVideo = null;
  if (player) player.srcObject = null;
  player = null;
  void audio?.close();
  audio = null;
  meters = { far: null, near: null };
  answered = false;
}

/**
 * Open the microphone and make the offer the core dials with: every candidate gathered first (the
 * offer crosses SIP whole; no trickle). Null when there is no microphone, or it is refused. Then
 * `detail` says why, and the call goes to the hall's terminal instead.
 */
export async function offer(o: { video?: boolean } = {}): Promise<string | null> {
  close();
  Object.assign(headset, { ...IDLE, phase: 'offering' });
  try {
    const { mic: micId } = chosenDevices();
    mic = await navigator.mediaDevices.getUserMedia({ audio: { ...(micId ? { deviceId: micId } : {}), echoCancellation: true, noiseSuppression: true, autoGainControl: true } });
  } catch (e) {
    Object.assign(headset, { phase: 'failed', detail: (e as Error).name || (e as Error).message });
    return null;
  }
  // bundle as balanced (the default): a border controller's answer for plain RTP names no BUNDLE group
  pc = new RTCPeerConnection({ iceServers: [], rtcpMuxPolicy: 'require' });
  for (const t of mic.getTracks()) pc.addTrack(t, mic);
  if (o.video) {
    // a video terminal sees the hall's camera where there is one; without, the hall only watches
    try {
      camera = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 360 } });
      for (const t of camera.getVideoTracks()) pc.addTrack(t, camera);
    } catch {
      pc.addTransceiver('video', { direction: 'recvonly' });
    }
  }
  pc.ontrack = (e) => {
    if (e.track.kind === 'video') {
      farVideo = new MediaStream([e.track]);
      headset.video = true;
    } else attachRemote(new MediaStream([e.track]));
  };
  await pc.setLocalDescription(await pc.createOffer());
  const p = pc;
  await gathered(p);
  return p.localDescription?.sdp ?? null;
}

function attachRemote(stream: MediaStream): void {
  // the chosen speaker plays it (an element also lets Chromium feed Web Audio the remote stream)
  player = new Audio();
  player.srcObject = stream;
  const { speaker } = chosenDevices();
  const sink = player as HTMLAudioElement & { setSinkId?: (id: string) => Promise<void> };
  if (speaker && sink.setSinkId) void sink.setSinkId(speaker).catch(() => undefined);
  void player.play().catch(() => undefined);
  audio = new AudioContext();
  const far = audio.createAnalyser();
  far.fftSize = 1024;
  audio.createMediaStreamSource(stream).connect(far);
  let near: AnalyserNode | null = null;
  if (mic) {
    near = audio.createAnalyser();
    near.fftSize = 1024;
    audio.createMediaStreamSource(mic).connect(near);
  }
  meters = { far, near };
}

/** The call the offer was dialled with. */
export function bind(call: string): void {
  headset.call = call;
  headset.phase = 'waiting';
}

/** Follow the bound call's state (from the `calls` topic): answered, take the far end's answer;
 *  ended, close. */
export async function follow(state: string | undefined, hub: HubClient, channel: string | null = null): Promise<void> {
  if (!headset.call || !pc) return;
  // one key fell through to the satellite phone: its voice is the terminal's handset, not ours
  if (state === 'connected' && channel === 'satellite') {
    close();
    Object.assign(headset, { phase: 'idle', call: null, level: 0, micLevel: 0 });
    return;
  }
  if (state === 'ended' || state === 'failed' || state === 'cancelled' || state === undefined) {
    close();
    Object.assign(headset, { phase: 'idle', call: null, level: 0, micLevel: 0 });
    return;
  }
  if (state !== 'connected' || answered) return;
  answered = true;
  try {
    const { answer } = await hub.command('call.media', { id: headset.call });
    if (!answer || !pc) throw new Error('no answer from the far end');
    await pc.setRemoteDescription({ type: 'answer', sdp: answer });
    sampling();
  } catch (e) {
    Object.assign(headset, { phase: 'failed', detail: (e as Error).message });
  }
}

function sampling(): void {
  headset.phase = 'live';
  lastArrival = Date.now();
  lastPackets = 0;
  timer = setInterval(() => void sample(), 1000);
}

/** Join a consultation's mix with this headset: the conference bridge answers the offer
 *  (`consult.join`), and the officer hears every participant and is heard by them. */
export async function joinMix(hub: HubClient, id: string): Promise<void> {
  const sdp = await offer();
  if (!sdp) return;
  Object.assign(headset, { mix: id, phase: 'waiting' });
  try {
    const { answer } = await hub.command('consult.join', { id, sdp });
    if (!pc) throw new Error('the headset closed');
    await pc.setRemoteDescription({ type: 'answer', sdp: answer });
    sampling();
  } catch (e) {
    close();
    Object.assign(headset, { phase: 'failed', detail: (e as Error).message });
  }
}

/** Leave the mix (`tell`: say so to the hall; not when the consultation is already over). */
export async function leaveMix(hub: HubClient, tell = true): Promise<void> {
  const id = headset.mix;
  close();
  Object.assign(headset, { mix: null, phase: 'idle', level: 0, micLevel: 0, detail: '' });
  if (tell && id) await hub.command('consult.leave', { id }).catch(() => undefined);
}

async function sample(): Promise<void> {
  if (!pc) return;
  const stats = await pc.getStats();
  let packets = 0;
  let lost = 0;
  let jitter: number | null = null;
  let rtt: number | null = null;
  let frames = 0;
  let fps: number | null = null;
  stats.forEach(
    (r: {
      type: string;
      kind?: string;
      packetsReceived?: number;
      packetsLost?: number;
      jitter?: number;
      state?: string;
      nominated?: boolean;
      currentRoundTripTime?: number;
      framesDecoded?: number;
      framesPerSecond?: number;
    }) => {
      if (r.type === 'inbound-rtp' && r.kind === 'video') {
        frames += r.framesDecoded ?? 0;
        if (r.framesPerSecond !== undefined) fps = Math.round(r.framesPerSecond);
      }
      if (r.type === 'inbound-rtp' && r.kind === 'audio') {
        packets += r.packetsReceived ?? 0;
        lost += r.packetsLost ?? 0;
        if (r.jitter !== undefined) jitter = Math.round(r.jitter * 1000);
      }
      if (r.type === 'candidate-pair' && r.state === 'succeeded' && r.nominated && r.currentRoundTripTime !== undefined) rtt = Math.round(r.currentRoundTripTime * 1000);
    },
  );
  const now = Date.now();
  if (packets > lastPackets) lastArrival = now;
  lastPackets = packets;
  // on hold the far end sends nothing, as it should: that is not a lost line
  if (headset.held) lastArrival = now;
  const silent = now - lastArrival;
  Object.assign(headset, {
    lost,
    jitterMs: jitter,
    rttMs: rtt,
    level: rms(meters.far),
    micLevel: headset.muted ? 0 : rms(meters.near),
    silentS: silent >= MEDIA_LOST_MS ? Math.round(silent / 1000) : 0,
    videoFrames: frames,
    videoFps: frames > headset.videoFrames ? fps : headset.video ? 0 : null,
    phase: silent >= MEDIA_LOST_MS ? 'lost' : 'live',
  });
}

/** Mute the microphone (the far end hears silence; the call stays up). */
export function setMuted(m: boolean): void {
  headset.muted = m;
  for (const t of mic?.getAudioTracks() ?? []) t.enabled = !m && !headset.held;
}

/** The directions the call's media had before a hold, to restore them. */
let beforeHold: Map<RTCRtpTransceiver, RTCRtpTransceiverDirection> | null = null;

/** Hold: neither side hears the other until it is taken back; the call stays up. On a SIP call (`hub`
 *  given) the far end is told, by a re-INVITE with a=sendonly (its phone shows hold, the platform may
 *  play music), and resumed with the directions the call had. */
export async function setHeld(h: boolean, hub?: HubClient): Promise<void> {
  headset.held = h;
  for (const t of mic?.getAudioTracks() ?? []) t.enabled = !h && !headset.muted;
  if (player) player.muted = h;
  const call = headset.call;
  if (!hub || !pc || !call) return;
  try {
    if (h) {
      beforeHold = new Map(pc.getTransceivers().map((t) => [t, t.direction]));
      for (const t of pc.getTransceivers()) t.direction = t.direction === 'recvonly' || t.direction === 'inactive' ? 'inactive' : 'sendonly';
    } else for (const [t, d] of beforeHold ?? []) t.direction = d;
    await pc.setLocalDescription(await pc.createOffer());
    const { answer } = await hub.command('call.hold', { id: call, held: h, sdp: pc.localDescription!.sdp });
    if (!pc) return;
    await pc.setRemoteDescription({ type: 'answer', sdp: answer });
    lastArrival = Date.now();
    headset.detail = '';
  } catch (e) {
    // the far end refused or the platform failed: the desk's own hold still stands
    if (pc?.signalingState === 'have-local-offer') await pc.setLocalDescription({ type: 'rollback' }).catch(() => undefined);
    headset.detail = (e as Error).message;
  }
}

/** Tones for an IVR (RFC 4733 telephone-events), when the answer accepted them. */
export function dtmf(tones: string): boolean {
  const sender = pc?.getSenders().find((s) => s.track?.kind === 'audio');
  if (!sender?.dtmf || !sender.dtmf.canInsertDTMF) return false;
  sender.dtmf.insertDTMF(tones, 120, 70);
  return true;
}
