// TAK Protocol version 1: CoT as Google protocol buffers, beside the XML on the same feeds. The
// messages and their field numbers are TAK's (atakmap.commoncommo.protobuf.v1, the .proto files of
// ATAK-CIV's takproto folder and its protocol.txt), written out here as the descriptor protobufjs
// reads; protobufjs (a maintained protobuf library) does the decoding. Framing (protocol.txt):
//   mesh (one per UDP datagram, or per short TCP connection): 0xbf <version varint> 0xbf <TakMessage>
//   stream (a TAK server connection, after negotiation):      0xbf <length varint> <TakMessage>
import protobuf from 'protobufjs/light.js';

const str = (id: number) => ({ type: 'string', id });
const dbl = (id: number) => ({ type: 'double', id });

const ROOT = protobuf.Root.fromJSON({
  nested: {
    TakMessage: { fields: { takControl: { type: 'TakControl', id: 1 }, cotEvent: { type: 'CotEvent', id: 2 } } },
    TakControl: { fields: { minProtoVersion: { type: 'uint32', id: 1 }, maxProtoVersion: { type: 'uint32', id: 2 }, contactUid: str(3) } },
    CotEvent: {
      fields: {
        type: str(1),
        access: str(2),
        qos: str(3),
        opex: str(4),
        uid: str(5),
        sendTime: { type: 'uint64', id: 6 },
        startTime: { type: 'uint64', id: 7 },
        staleTime: { type: 'uint64', id: 8 },
        how: str(9),
        lat: dbl(10),
        lon: dbl(11),
        hae: dbl(12),
        ce: dbl(13),
        le: dbl(14),
        detail: { type: 'Detail', id: 15 },
      },
    },
    Detail: {
      fields: {
        xmlDetail: str(1),
        contact: { type: 'Contact', id: 2 },
        group: { type: 'Group', id: 3 },
        precisionLocation: { type: 'PrecisionLocation', id: 4 },
        status: { type: 'Status', id: 5 },
        takv: { type: 'Takv', id: 6 },
        track: { type: 'Track', id: 7 },
      },
    },
    Contact: { fields: { endpoint: str(1), callsign: str(2) } },
    Group: { fields: { name: str(1), role: str(2) } },
    PrecisionLocation: { fields: { geopointsrc: str(1), altsrc: str(2) } },
    Status: { fields: { battery: { type: 'uint32', id: 1 } } },
    Takv: { fields: { device: str(1), platform: str(2), os: str(3), version: str(4) } },
    Track: { fields: { speed: dbl(1), course: dbl(2) } },
  },
});
const TAK_MESSAGE = ROOT.lookupType('TakMessage');

export const TAK_MAGIC = 0xbf;

export interface TakCotEvent {
  type?: string;
  uid?: string;
  how?: string;
  sendTime?: number;
  startTime?: number;
  staleTime?: number;
  lat?: number;
  lon?: number;
  hae?: number;
  ce?: number;
  le?: number;
  detail?: {
    xmlDetail?: string;
    contact?: { endpoint?: string; callsign?: string };
    group?: { name?: string; role?: string };
    status?: { battery?: number };
    takv?: { device?: string; platform?: string; os?: string; version?: string };
    track?: { speed?: number; course?: number };
  };
}
export interface TakMessage {
  takControl?: { minProtoVersion?: number; maxProtoVersion?: number; contactUid?: string };
  cotEvent?: TakCotEvent;
}

/** A TakMessage payload (after its header): throws on bytes that are not one. */
export function decodeTakMessage(payload: Uint8Array): TakMessage {
  const m = TAK_MESSAGE.decode(payload);
  // uint64 times as numbers (milliseconds fit a double exactly until the year 287,396)
  return TAK_MESSAGE.toObject(m, { longs: Number, defaults: false }) as TakMessage;
}

export function encodeTakMessage(m: TakMessage): Uint8Array {
  const err = TAK_MESSAGE.verify(m);
  if (err) throw new Error(`TakMessage: ${err}`);
  return TAK_MESSAGE.encode(TAK_MESSAGE.fromObject(m)).finish();
}

/** An unsigned varint at `at`: its value and length, null when cut short, or NaN past 2^53. */
export function readVarint(buf: Uint8Array, at: number): { value: number; length: number } | null {
  let value = 0;
  let scale = 1;
  for (let k = 0; k < 10; k++) {
    if (at + k >= buf.length) return null;
    const b = buf[at + k]!;
    value += (b & 0x7f) * scale;
    if ((b & 0x80) === 0) return { value: value > Number.MAX_SAFE_INTEGER ? NaN : value, length: k + 1 };
    scale *= 128;
  }
  return { value: NaN, length: 10 };
}

function writeVarint(n: number): Buffer {
  const out: number[] = [];
  let v = n;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return Buffer.from(out);
}

/** A mesh message: 0xbf <version> 0xbf <payload>. */
export function meshFrame(payload: Uint8Array, version = 1): Buffer {
  return Buffer.concat([Buffer.from([TAK_MAGIC]), writeVarint(version), Buffer.from([TAK_MAGIC]), payload]);
}
