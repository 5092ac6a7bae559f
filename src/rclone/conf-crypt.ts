import { createHash, randomBytes } from 'node:crypto';

/**
 * rclone's own config encryption (fs/config/crypt.go), done here so that poof can read and
 * write an encrypted rclone-poof.conf itself and rclone reads the very same file:
 * - the first line that is neither empty nor a comment is `RCLONE_ENCRYPT_V0:`;
 * - then base64 of a 24-byte nonce followed by NaCl secretbox (XSalsa20-Poly1305) of the text;
 * - the key is SHA-256 of `[password][rclone-config]`, the password NFKC-normalised.
 */
export const ENCRYPTED_MARK = 'RCLONE_ENCRYPT_V0:';
const NONCE_BYTES = 24;
/** Poly1305's tag. */
const TAG_BYTES = 16;

/** Pure: does this text hold an encrypted config (rclone's test: the first real line)? */
export function isEncryptedConf(text: string): boolean {
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    return line.startsWith('RCLONE_ENCRYPT_V');
  }
  return false;
}

/**
 * Pure: a password command's output as rclone takes it (line ends trimmed), or undefined when
 * nothing is left but white space, which rclone refuses.
 */
export function normalisePassword(output: string): string | undefined {
  const trimmed = output.replace(/^[\r\n]+|[\r\n]+$/g, '');
  return usablePassword(trimmed) ? trimmed : undefined;
}

/** Pure: would rclone take this as a config password (not empty, not only white space)? */
export function usablePassword(password: string): boolean {
  return password.trim() !== '';
}

/** The key, as rclone derives it: SHA-256 of the NFKC-normalised password in brackets. */
function configKey(password: string): Uint8Array {
  if (!usablePassword(password)) throw new Error('an empty password cannot encrypt rclone-poof.conf');
  return createHash('sha256').update(`[${password.normalize('NFKC')}][rclone-config]`, 'utf8').digest();
}

/** The cipher, loaded only where a config is encrypted: no other run pays for it. */
async function secretbox() {
  return (await import('@noble/ciphers/salsa')).xsalsa20poly1305;
}

/** The text rclone writes in front of an encrypted config; poof writes the same. */
export async function encryptConf(plain: string, password: string): Promise<string> {
  const xsalsa20poly1305 = await secretbox();
  const nonce = randomBytes(NONCE_BYTES);
  const box = xsalsa20poly1305(configKey(password), nonce).encrypt(Buffer.from(plain, 'utf8'));
  const data = Buffer.concat([nonce, box]).toString('base64');
  return `# Encrypted rclone configuration File\n\n${ENCRYPTED_MARK}\n${data}\n`;
}

export type DecryptResult = { ok: true; text: string } | { ok: false; reason: 'password' | 'damaged' | 'version' };

/** The plain text of an encrypted config, or why it cannot be had. */
export async function decryptConf(text: string, password: string): Promise<DecryptResult> {
  const lines = text.split(/\r?\n/);
  const mark = lines.findIndex((raw) => {
    const line = raw.trim();
    return line !== '' && !line.startsWith('#') && !line.startsWith(';');
  });
  if (mark < 0 || lines[mark]?.trim() !== ENCRYPTED_MARK) return { ok: false, reason: 'version' };
  const encoded = lines.slice(mark + 1).join('').replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(encoded)) return { ok: false, reason: 'damaged' };
  const data = Buffer.from(encoded, 'base64');
  if (data.length < NONCE_BYTES + TAG_BYTES) return { ok: false, reason: 'damaged' };
  const xsalsa20poly1305 = await secretbox();
  try {
    const plain = xsalsa20poly1305(configKey(password), data.subarray(0, NONCE_BYTES)).decrypt(data.subarray(NONCE_BYTES));
    return { ok: true, text: Buffer.from(plain).toString('utf8') };
  } catch {
    // Poly1305 refused the tag: another password (or a changed file, which it cannot tell apart).
    return { ok: false, reason: 'password' };
  }
}

/** A new random password for the keychain: 256 bits, in characters no shell or parser minds. */
export function newConfPassword(): string {
  return randomBytes(32).toString('base64url');
}
