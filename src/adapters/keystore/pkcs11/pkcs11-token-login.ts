// The user login of one token. PKCS#11 login is per application and token, not per session: one
// C_Login serves every session, and closing the last session (or re-initialising the library)
// forgets it. The security officer login (for CKA_TRUSTED objects) replaces it for a while.
import pkcs11js from 'pkcs11js';
import { KmsError } from '../../../domain/errors.js';
import { pkcs11Code, pkcs11ErrorName } from './pkcs11-errors.js';
import type { Pkcs11Api } from './pkcs11-module.js';
import type { Handle } from './pkcs11-object-policy.js';

export class TokenLogin {
  private loggedIn = false;

  constructor(
    private readonly tokenName: string,
    private readonly pin: string,
  ) {}

  /** Logs the user in through `session` unless the application already is. */
  ensure(api: Pkcs11Api, session: Handle): void {
    if (this.loggedIn) return;
    try {
      api.C_Login(session, pkcs11js.CKU_USER, this.pin);
    } catch (error) {
      if (pkcs11Code(error) !== pkcs11js.CKR_USER_ALREADY_LOGGED_IN) throw error;
    }
    this.loggedIn = true;
  }

  get current(): boolean {
    return this.loggedIn;
  }

  /** The token may have forgotten the login (sessions died, library re-initialised): log in again. */
  forget(): void {
    this.loggedIn = false;
  }

  /**
   * Runs `operation` logged in as the security officer, then logs out; the next operation logs the
   * user in again. This logs every session of the token out: only while nothing else uses it.
   */
  async asSecurityOfficer<T>(
    api: Pkcs11Api,
    session: Handle,
    soPin: string,
    operation: () => Promise<T> | T,
  ): Promise<T> {
    try {
      api.C_Logout(session);
    } catch {
      // Not logged in: nothing to undo.
    }
    this.loggedIn = false;
    try {
      api.C_Login(session, pkcs11js.CKU_SO, soPin);
    } catch (error) {
      // A refused SO PIN is the configuration's fault, not the token's: keep the circuit out of it.
      throw new KmsError(
        'Unavailable',
        `HSM backend ${this.tokenName} refused the security officer login (${pkcs11ErrorName(error)})`,
        { cause: error },
      );
    }
    try {
      return await operation();
    } finally {
      try {
        api.C_Logout(session);
      } catch {
        // The session may be gone; the next operation logs in afresh anyway.
      }
    }
  }
}
