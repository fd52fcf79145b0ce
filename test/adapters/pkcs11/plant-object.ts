// Plants an AES key under a label Keyhaven owns, as another process holding the user PIN could
// (C_CreateObject with a value it knows), so tests can show such objects are refused.
import { execFileSync } from 'node:child_process';

const SCRIPT = String.raw`
import { createRequire } from 'node:module';
const require = createRequire(process.cwd() + '/package.json');
const P = require('pkcs11js');
const [modulePath, tokenLabel, pin, label, flags] = process.argv.slice(1);
const { isPrivate, extractable } = JSON.parse(flags);
const lib = new P.PKCS11();
lib.load(modulePath);
lib.C_Initialize();
const slot = lib.C_GetSlotList(true).find((s) => lib.C_GetTokenInfo(s).label.trim() === tokenLabel);
const session = lib.C_OpenSession(slot, P.CKF_SERIAL_SESSION | P.CKF_RW_SESSION);
lib.C_Login(session, P.CKU_USER, pin);
lib.C_CreateObject(session, [
  { type: P.CKA_CLASS, value: P.CKO_SECRET_KEY },
  { type: P.CKA_KEY_TYPE, value: P.CKK_AES },
  { type: P.CKA_TOKEN, value: true },
  { type: P.CKA_PRIVATE, value: isPrivate },
  { type: P.CKA_SENSITIVE, value: true },
  { type: P.CKA_EXTRACTABLE, value: extractable },
  { type: P.CKA_ENCRYPT, value: true },
  { type: P.CKA_DECRYPT, value: true },
  { type: P.CKA_LABEL, value: label },
  { type: P.CKA_VALUE, value: Buffer.alloc(32, 7) },
]);
lib.C_Logout(session);
lib.C_Finalize();
`;

export function plantSecretKey(options: {
  env: Record<string, string>;
  modulePath: string;
  tokenLabel: string;
  pin: string;
  label: string;
  isPrivate: boolean;
  extractable: boolean;
}): void {
  const flags = JSON.stringify({ isPrivate: options.isPrivate, extractable: options.extractable });
  execFileSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      SCRIPT,
      options.modulePath,
      options.tokenLabel,
      options.pin,
      options.label,
      flags,
    ],
    { env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
}
