/**
 * FNV-1a (32 bits) over the char codes of `text` (each below 256: latin1, as Name.key), then
 * `bytes`: a cheap, stable spread of names over places, where nothing rests on it being hard
 * to guess (the jitter of signature expirations, the place of a zone's daily re-sign).
 */
export function fnv1a(text: string, bytes: readonly number[] = []): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ (text.charCodeAt(i) & 0xff), 0x01000193);
  for (const b of bytes) h = Math.imul(h ^ (b & 0xff), 0x01000193);
  return h >>> 0;
}
