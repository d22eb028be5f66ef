// The shape of `window.beacon`, what the preload exposes in Electron windows: one call that has the
// hall's MessagePort posted to the page (renderer/hub/transport.ts, MessagePortTransport).
export interface BeaconBridge {
  /** Ask for a port; it arrives as a window message whose data is `nonce`, with the port attached. */
  acquirePort(nonce: string): void;
}
