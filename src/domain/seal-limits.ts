// How many messages one AES-GCM key version may seal. With random 96-bit IVs, NIST SP 800-38D 8.3
// allows at most 2^32 invocations per key (the IV collision probability stays below 2^-32); past
// that a repeated IV reveals the authentication key. Keyhaven counts every seal per key version,
// persistently, rotates the key automatically well before the bound (as Vault rotates its barrier
// key, at 0.9 x 2^32), and refuses to seal past it (docs/architecture.md, "The AES-GCM bound").
export const AES_GCM_MAX_MESSAGES = 2 ** 32;
/** Three quarters of the bound: room for reservations other processes hold and a slow rotation. */
export const AES_GCM_ROTATE_AFTER = 3 * 2 ** 30;
