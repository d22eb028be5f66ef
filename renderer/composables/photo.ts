// Photos as evidence (sheets' feedback, tasks done; issue 21): picked from a file input, kept per
// key as a data URL until sent. Over 140 KB is refused here (the wire takes 192 KiB of base64).
import { ref } from 'vue';

export const PHOTO_MAX_BYTES = 140 * 1024;

export function usePhotos(onTooLarge: () => void) {
  const photos = ref<Record<string, string>>({});
  function pick(key: string, ev: Event): void {
    const f = (ev.target as HTMLInputElement).files?.[0];
    if (!f) return;
    if (f.size > PHOTO_MAX_BYTES) {
      onTooLarge();
      return;
    }
    const r = new FileReader();
    r.onload = () => (photos.value = { ...photos.value, [key]: String(r.result) });
    r.readAsDataURL(f);
  }
  /** `{ photo }` for a command's arguments, or nothing. */
  const photoArg = (key: string): { photo?: string } => (photos.value[key] ? { photo: photos.value[key] } : {});
  return { photos, pick, photoArg };
}

/** A file as a data URL (a sheet's attachment), or null when it is over `maxBytes`. */
export function readFile(f: File, maxBytes: number): Promise<string | null> {
  if (f.size > maxBytes) return Promise.resolve(null);
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve(String(r.result));
    r.onerror = () => reject(r.error ?? new Error('unreadable'));
    r.readAsDataURL(f);
  });
}
