// Plants an AES key under a label Keyhaven owns, as another process holding the user PIN could
// (C_CreateObject with a value it knows), so tests can show such objects are refused.
import { runAsPinHolder } from './pin-holder-script.js';

const SCRIPT = String.raw`
const [label, flags] = args;
const { isPrivate, extractable } = JSON.parse(flags);
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
  runAsPinHolder(options, SCRIPT, [options.label, flags]);
}
