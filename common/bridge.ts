// The shape of `window.beacon`, the preload's hub client (Electron windows only).
import type { ServerMessage, TopicName } from './contract.ts';

export interface BeaconBridge {
  hello(client: string): void;
  subscribe(topic: TopicName, since?: { epoch: string; seq: number }): void;
  unsubscribe(topic: TopicName): void;
  command(id: string, name: string, args: unknown): void;
  onMessage(cb: (msg: ServerMessage) => void): () => void;
}
