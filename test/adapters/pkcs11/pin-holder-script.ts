// Runs a script as another process that holds only the user PIN and pkcs11js, nothing of Keyhaven:
// how the attack tests act on a token. The script body finds `P` (pkcs11js), `lib`, a logged-in R/W
// `session` and its own `args`; what it writes to stdout is returned.
import { execFileSync } from 'node:child_process';

export interface PinHolder {
  env: Record<string, string>;
  modulePath: string;
  tokenLabel: string;
  pin: string;
}

const PRELUDE = String.raw`
import { createRequire } from 'node:module';
const require = createRequire(process.cwd() + '/package.json');
const P = require('pkcs11js');
const [modulePath, tokenLabel, pin, ...args] = process.argv.slice(1);
const lib = new P.PKCS11();
lib.load(modulePath);
lib.C_Initialize();
const slot = lib.C_GetSlotList(true).find((s) => lib.C_GetTokenInfo(s).label.trim() === tokenLabel);
const session = lib.C_OpenSession(slot, P.CKF_SERIAL_SESSION | P.CKF_RW_SESSION);
lib.C_Login(session, P.CKU_USER, pin);
`;

export function runAsPinHolder(holder: PinHolder, body: string, args: string[]): string {
  return execFileSync(
    process.execPath,
    ['--input-type=module', '-e', PRELUDE + body, holder.modulePath, holder.tokenLabel, holder.pin, ...args],
    { env: { ...process.env, ...holder.env }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
  );
}
