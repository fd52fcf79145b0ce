// Finds our objects in one token by label and class, checks them once (pkcs11-object-policy.ts) and
// caches their handles: the hot path is one Map lookup. A cache entry is dropped when its object is
// destroyed, and all of them when the token's sessions, login or library generation change. A
// caller may add a proof of content (`verify`, e.g. a key check value), run once per handle.
import { KmsError } from '../../../domain/errors.js';
import type { Pkcs11Api } from './pkcs11-module.js';
import { checkObject, searchTemplate, type Handle, type ObjectRole } from './pkcs11-object-policy.js';
import type pkcs11js from 'pkcs11js';

/** Throws when the object's content is not what the caller recorded; runs before first use. */
export type ObjectVerifier = (handle: Handle) => void;

export class ObjectLookup {
  /** The roles each handle was checked for: a lookup for another role checks it again. */
  private readonly handles = new Map<string, { handle: Handle; roles: Set<ObjectRole>; verified: boolean }>();

  constructor(
    private readonly token: { name: string; tokenLabel: string },
    /** Several backends: keys may be copies or originals awaiting copy (pkcs11-object-policy.ts). */
    private readonly replicated: boolean,
  ) {}

  /** The checked handle of the object, or undefined when the token holds none under that label. */
  find(
    api: Pkcs11Api,
    session: Handle,
    label: string,
    objectClass: number,
    role: ObjectRole,
    verify?: ObjectVerifier,
  ): Handle | undefined {
    const key = `${objectClass}:${label}`;
    const cached = this.handles.get(key);
    if (cached) {
      if (!cached.roles.has(role)) {
        this.check(api, session, cached.handle, label, role);
        cached.roles.add(role);
      }
      if (verify && !cached.verified) {
        verify(cached.handle);
        cached.verified = true;
      }
      return cached.handle;
    }
    const handle = this.search(api, session, label, searchTemplate(label, objectClass, role));
    if (!handle) {
      // Nothing of the expected kind: an object of another visibility (a public or session object
      // planted under our label) must be reported, not silently shadowed by a new key of ours.
      const impostor = this.search(api, session, label, searchTemplate(label, objectClass, role).slice(0, 2));
      if (impostor) this.check(api, session, impostor, label, role);
      return undefined;
    }
    this.check(api, session, handle, label, role);
    verify?.(handle);
    this.handles.set(key, { handle, roles: new Set([role]), verified: verify !== undefined });
    return handle;
  }

  forget(label: string, objectClass: number): void {
    this.handles.delete(`${objectClass}:${label}`);
  }

  clear(): void {
    this.handles.clear();
  }

  private check(api: Pkcs11Api, session: Handle, handle: Handle, label: string, role: ObjectRole): void {
    checkObject(api, session, handle, { label, tokenLabel: this.token.tokenLabel }, role, this.replicated);
  }

  private search(
    api: Pkcs11Api,
    session: Handle,
    label: string,
    template: pkcs11js.Template,
  ): Handle | undefined {
    api.C_FindObjectsInit(session, template);
    let found: Handle[];
    try {
      found = api.C_FindObjects(session, 2);
    } finally {
      api.C_FindObjectsFinal(session);
    }
    if (found.length > 1) {
      throw new KmsError(
        'Internal',
        `HSM backend ${this.token.name} holds several objects labelled ${label}`,
      );
    }
    return found[0];
  }
}
