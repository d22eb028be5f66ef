// The one test for "a plain JSON object", shared by the contract's frame reader, the patch code and
// the display's hub client. In a file of its own so the contract and ops.ts need not import each other.
export type Obj = Record<string, unknown>;
/** A plain JSON object (not null, not an array). */
export const isPlain = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
