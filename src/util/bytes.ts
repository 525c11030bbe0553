/** Byte-level helpers: SHA-256 digests and the PNG signature. */
import { createHash } from 'node:crypto';

/** The SHA-256 digest of `data` (`.toString('hex')` for its text form). */
export function sha256(data: string | Uint8Array): Buffer {
  return createHash('sha256').update(data).digest();
}

/** The eight bytes every PNG file starts with. */
export const PNG_SIGNATURE: Readonly<Buffer> = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
