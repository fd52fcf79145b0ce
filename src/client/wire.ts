// Wire <-> SDK conversion: base64 for bytes (API.md conventions) and checked reads of response
// fields, so a malformed reply surfaces as a KeyhavenError naming the field, not as `undefined` later.
import { KeyhavenError } from './errors.js';

export type WireObject = Record<string, unknown>;

export const toBase64 = (bytes: Uint8Array): string =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');

export function malformed(what: string): KeyhavenError {
  return new KeyhavenError('Internal', `malformed response from server: ${what}`);
}

export function asObject(value: unknown, what = 'body'): WireObject {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw malformed(`${what} is not an object`);
  return value as WireObject;
}

export function field(body: WireObject, name: string): WireObject {
  return asObject(body[name], name);
}

export function str(body: WireObject, name: string): string {
  const value = body[name];
  if (typeof value !== 'string') throw malformed(`"${name}" is not a string`);
  return value;
}

export function num(body: WireObject, name: string): number {
  const value = body[name];
  if (typeof value !== 'number') throw malformed(`"${name}" is not a number`);
  return value;
}

export function optionalNum(body: WireObject, name: string): number | undefined {
  return body[name] === undefined || body[name] === null ? undefined : num(body, name);
}

export function optionalStr(body: WireObject, name: string): string | undefined {
  return body[name] === undefined || body[name] === null ? undefined : str(body, name);
}

export function bool(body: WireObject, name: string): boolean {
  const value = body[name];
  if (typeof value !== 'boolean') throw malformed(`"${name}" is not a boolean`);
  return value;
}

export function bytes(body: WireObject, name: string): Buffer {
  return Buffer.from(str(body, name), 'base64');
}

export function optionalBytes(body: WireObject, name: string): Buffer | undefined {
  return body[name] === undefined || body[name] === null ? undefined : bytes(body, name);
}

export function array(body: WireObject, name: string): unknown[] {
  const value = body[name];
  if (!Array.isArray(value)) throw malformed(`"${name}" is not an array`);
  return value;
}

/** Drops undefined members so optional inputs never appear on the wire as `null`. */
export function compact<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
